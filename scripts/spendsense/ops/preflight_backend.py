"""Preflight on the Pulumi state backend: is it reachable with the credentials at hand.

Which backend: PULUMI_BACKEND_URL, else the `current` one of `pulumi login`
(~/.pulumi/credentials.json, or $PULUMI_HOME/credentials.json), else Pulumi Cloud
(https://api.pulumi.com), as the Pulumi CLI picks it. What is checked, without the Pulumi CLI:
- Pulumi Cloud or a self-hosted service (http[s]://): `GET /api/user` with the access token
  (PULUMI_ACCESS_TOKEN, else the one `pulumi login` stored for that URL);
- s3://bucket[/prefix][?region=...]: `s3:ListBucket` on the bucket (ListObjectsV2 under the
  prefix's `.pulumi/stacks/`, which also tells whether this stack has state yet);
- gs://bucket: the bucket exists and can be read (`storage.buckets.get`);
- file://path: the directory exists and is writable.
Any other scheme (azblob://) is not checked here: `pulumi whoami -v` checks it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from spendsense.ops.preflight import DENIED, MISSING, OK, PROJECT, UNKNOWN, Check

CLOUD = "https://api.pulumi.com"
ID = "pulumi.backend"


def _credentials() -> dict[str, object]:
    home = Path(os.environ.get("PULUMI_HOME") or Path.home() / ".pulumi")
    try:
        data = json.loads((home / "credentials.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def backend_url() -> tuple[str, str]:
    """(the URL, where it came from)."""
    url = os.environ.get("PULUMI_BACKEND_URL", "").strip()
    if url:
        return url, "PULUMI_BACKEND_URL"
    current = _credentials().get("current")
    if isinstance(current, str) and current:
        return current, "`pulumi login`"
    return CLOUD, "the default"


def _service(url: str) -> Check:
    token = os.environ.get("PULUMI_ACCESS_TOKEN", "").strip()
    if not token:
        tokens = _credentials().get("accessTokens")
        stored = tokens.get(url.rstrip("/")) if isinstance(tokens, dict) else None
        token = stored if isinstance(stored, str) else ""
    if not token:
        return Check(
            ID,
            MISSING,
            f"no access token for {url}",
            f"pulumi login {url} (CI: the PULUMI_ACCESS_TOKEN secret)",
        )
    try:
        response = requests.get(
            f"{url.rstrip('/')}/api/user",
            headers={"Authorization": f"token {token}", "Accept": "application/vnd.pulumi+8"},
            timeout=30,
        )
    except requests.RequestException as exc:
        return Check(ID, UNKNOWN, f"no answer from {url} ({str(exc)[:160]})", "try again")
    if response.status_code in (401, 403):
        return Check(
            ID, DENIED, f"{url} refused the access token (HTTP {response.status_code})",
            f"pulumi login {url} with a valid token (CI: the PULUMI_ACCESS_TOKEN secret)",
        )  # fmt: skip
    if response.status_code != 200:
        return Check(ID, UNKNOWN, f"{url} answered HTTP {response.status_code}", "try again")
    try:
        user = response.json()
    except ValueError:
        user = {}
    name = user.get("githubLogin") or user.get("name") if isinstance(user, dict) else None
    return Check(ID, OK, f"{url} reachable, logged in as {name or 'a user'}")


def _s3(url: str, stack: str, region: str) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    from spendsense.clients import describe_aws_error, make_client

    parts = urlsplit(url)
    bucket, prefix = parts.netloc, parts.path.strip("/")
    region = (parse_qs(parts.query).get("region") or [region])[0]
    stacks = f"{prefix + '/' if prefix else ''}.pulumi/stacks/"
    try:
        listing = make_client("s3", region=region).list_objects_v2(Bucket=bucket, Prefix=stacks)
    except (BotoCoreError, ClientError) as exc:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if code in {"NoSuchBucket", "404"}:
            return Check(
                ID, MISSING, f"state bucket {bucket} does not exist",
                "create it (docs/ci.md declares it as code) or fix PULUMI_BACKEND_URL",
            )  # fmt: skip
        status = DENIED if code in {"AccessDenied", "403"} else UNKNOWN
        fix = f"grant s3:ListBucket on arn:aws:s3:::{bucket}" if status == DENIED else "try again"
        return Check(ID, status, str(describe_aws_error(exc, f"list {url}")), fix)
    keys = {str(item.get("Key")) for item in listing.get("Contents", [])}
    has_stack = any(k.endswith((f"/{PROJECT}/{stack}.json", f"stacks/{stack}.json")) for k in keys)
    state = "has state for this stack" if has_stack else "has no state for this stack yet"
    return Check(ID, OK, f"{url} reachable; it {state}")


def _gcs(url: str) -> Check:
    from spendsense.clients import storage_client

    bucket = urlsplit(url).netloc
    try:
        found = storage_client().lookup_bucket(bucket)
    except Exception as exc:  # google.api_core exceptions, credentials, connection errors
        text = " ".join(str(exc).split())[:200]
        forbidden = "403" in text or "Forbidden" in type(exc).__name__
        return Check(
            ID, DENIED if forbidden else UNKNOWN, f"cannot read {url} ({type(exc).__name__}: {text})",
            f"grant storage.buckets.get on {bucket}" if forbidden else "try again",
        )  # fmt: skip
    if found is None:
        return Check(
            ID,
            MISSING,
            f"state bucket {bucket} does not exist",
            f"gcloud storage buckets create gs://{bucket}",
        )
    return Check(ID, OK, f"{url} reachable")


def check_backend(stack: str, region: str) -> list[Check]:
    url, source = backend_url()
    scheme = urlsplit(url).scheme
    if scheme in {"http", "https"}:
        check = _service(url)
    elif scheme == "s3":
        check = _s3(url, stack, region)
    elif scheme == "gs":
        check = _gcs(url)
    elif scheme == "file":
        path = Path(url.removeprefix("file://")).expanduser()
        if path.is_dir() and os.access(path, os.W_OK):
            check = Check(ID, OK, f"local backend {path} is writable")
        else:
            check = Check(
                ID, MISSING, f"local backend {path} is not a writable directory", f"mkdir -p {path}"
            )
    else:
        check = Check(
            ID, UNKNOWN, f"{url}: preflight cannot check a {scheme or 'schemeless'} backend",
            "run `pulumi whoami -v` to check it",
        )  # fmt: skip
    return [Check(check.id, check.status, f"({source}) {check.detail}", check.fix)]
