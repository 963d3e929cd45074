"""Preflight on the Pulumi state backend: is it reachable, and what does this stack manage.

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

Without `--state`, the stack's state is read from the backend the same way (no Pulumi CLI
needed): Pulumi Cloud's `GET /api/stacks/{org}/{project}/{stack}/export` (the org: the
token's own account, `githubLogin` of /api/user, or PULUMI_ORG), or a self-managed backend's
checkpoint `.pulumi/stacks/spendsense/<stack>.json[.gz]` (s3:GetObject; the legacy
`.pulumi/stacks/<stack>.json` too). No state there means a stack never deployed: nothing is
managed yet.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from spendsense.errors import one_line
from spendsense.ops.preflight import (
    DENIED,
    MISSING,
    OK,
    PROJECT,
    UNKNOWN,
    Check,
    StackState,
    StateError,
    parse_state,
)

CLOUD = "https://api.pulumi.com"
ID = "pulumi.backend"
STATE_ID = "pulumi.state"


@dataclass(frozen=True)
class Backend:
    check: Check
    state: StackState | None = None  # None: not known
    where: str = "not read"  # where the state came from, for the report


def _checkpoint_keys(stack: str) -> tuple[str, ...]:
    """Self-managed backends: project-scoped layout first, then the legacy one."""
    names = (f"{PROJECT}/{stack}.json", f"{stack}.json")
    return tuple(f".pulumi/stacks/{name}{gz}" for name in names for gz in ("", ".gz"))


def _decode(data: bytes, key: str, stack: str) -> StackState:
    if key.endswith(".gz"):
        data = gzip.decompress(data)
    try:
        return parse_state(json.loads(data), stack)
    except ValueError as exc:  # StateError is a ValueError, and so is bad JSON
        raise StateError(f"{key}: {exc}") from None


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


def _service(url: str, stack: str) -> Backend:
    token = os.environ.get("PULUMI_ACCESS_TOKEN", "").strip()
    if not token:
        tokens = _credentials().get("accessTokens")
        stored = tokens.get(url.rstrip("/")) if isinstance(tokens, dict) else None
        token = stored if isinstance(stored, str) else ""
    if not token:
        return Backend(
            Check(
                ID,
                MISSING,
                f"no access token for {url}",
                f"pulumi login {url} (CI: the PULUMI_ACCESS_TOKEN secret)",
            )
        )
    headers = {"Authorization": f"token {token}", "Accept": "application/vnd.pulumi+8"}
    base = url.rstrip("/")
    try:
        response = requests.get(f"{base}/api/user", headers=headers, timeout=30)
    except requests.RequestException as exc:
        return Backend(Check(ID, UNKNOWN, f"no answer from {url} ({str(exc)[:160]})", "try again"))
    if response.status_code in (401, 403):
        return Backend(
            Check(
                ID,
                DENIED,
                f"{url} refused the access token (HTTP {response.status_code})",
                f"pulumi login {url} with a valid token (CI: the PULUMI_ACCESS_TOKEN secret)",
            )
        )
    if response.status_code != 200:
        return Backend(
            Check(ID, UNKNOWN, f"{url} answered HTTP {response.status_code}", "try again")
        )
    try:
        user = response.json()
    except ValueError:
        user = {}
    login = user.get("githubLogin") or user.get("name") if isinstance(user, dict) else None
    check = Check(ID, OK, f"{url} reachable, logged in as {login or 'a user'}")
    org = os.environ.get("PULUMI_ORG", "").strip() or login
    if not org:
        return Backend(check)
    where = f"{base}/api/stacks/{org}/{PROJECT}/{stack}/export"
    try:
        export = requests.get(where, headers=headers, timeout=60)
        if export.status_code == 404:
            return Backend(check, StackState(stack, ()), f"{where}: no such stack yet")
        if export.status_code != 200:
            return Backend(check, None, f"{where}: HTTP {export.status_code}")
        return Backend(check, parse_state(export.json(), stack), where)
    except (requests.RequestException, ValueError) as exc:
        return Backend(check, None, f"{where}: {one_line(exc, 160)}")


def _s3(url: str, stack: str, region: str) -> Backend:
    from botocore.exceptions import BotoCoreError, ClientError

    from spendsense.clients import describe_aws_error, make_client

    parts = urlsplit(url)
    bucket, prefix = parts.netloc, parts.path.strip("/")
    region = (parse_qs(parts.query).get("region") or [region])[0]
    root = f"{prefix}/" if prefix else ""
    client = make_client("s3", region=region)
    try:
        listing = client.list_objects_v2(Bucket=bucket, Prefix=f"{root}.pulumi/stacks/")
    except (BotoCoreError, ClientError) as exc:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if code in {"NoSuchBucket", "404"}:
            return Backend(
                Check(
                    ID,
                    MISSING,
                    f"state bucket {bucket} does not exist",
                    "create it (docs/ci.md declares it as code) or fix PULUMI_BACKEND_URL",
                )
            )
        status = DENIED if code in {"AccessDenied", "403"} else UNKNOWN
        fix = f"grant s3:ListBucket on arn:aws:s3:::{bucket}" if status == DENIED else "try again"
        return Backend(Check(ID, status, str(describe_aws_error(exc, f"list {url}")), fix))
    keys = {str(item.get("Key")) for item in listing.get("Contents", [])}
    key = next((root + k for k in _checkpoint_keys(stack) if root + k in keys), None)
    if key is None:
        check = Check(ID, OK, f"{url} reachable; it has no state for this stack yet")
        return Backend(check, StackState(stack, ()), f"{url}: no state for {stack} yet")
    check = Check(ID, OK, f"{url} reachable; it has state for this stack")
    try:
        data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return Backend(check, _decode(data, key, stack), f"s3://{bucket}/{key}")
    except (BotoCoreError, ClientError, StateError, OSError) as exc:
        return Backend(check, None, f"s3://{bucket}/{key}: {one_line(exc, 160)}")


def _gcs(url: str, stack: str) -> Backend:
    from spendsense.clients import storage_client

    bucket = urlsplit(url).netloc
    try:
        found = storage_client().lookup_bucket(bucket)
    except Exception as exc:  # google.api_core exceptions, credentials, connection errors
        text = one_line(exc)
        forbidden = "403" in text or "Forbidden" in type(exc).__name__
        status = DENIED if forbidden else UNKNOWN
        fix = f"grant storage.buckets.get on {bucket}" if forbidden else "try again"
        return Backend(Check(ID, status, f"cannot read {url} ({type(exc).__name__}: {text})", fix))
    if found is None:
        fix = f"gcloud storage buckets create gs://{bucket}"
        return Backend(Check(ID, MISSING, f"state bucket {bucket} does not exist", fix))
    check = Check(ID, OK, f"{url} reachable")
    try:
        for key in _checkpoint_keys(stack):
            blob = found.get_blob(key)
            if blob is not None:
                state = _decode(blob.download_as_bytes(), key, stack)
                return Backend(check, state, f"gs://{bucket}/{key}")
    except Exception as exc:  # google.api_core exceptions, StateError
        return Backend(check, None, f"gs://{bucket}: {one_line(exc, 160)}")
    return Backend(check, StackState(stack, ()), f"{url}: no state for {stack} yet")


def _local(url: str, stack: str) -> Backend:
    path = Path(url.removeprefix("file://")).expanduser()
    if not (path.is_dir() and os.access(path, os.W_OK)):
        return Backend(
            Check(
                ID, MISSING, f"local backend {path} is not a writable directory", f"mkdir -p {path}"
            )
        )
    check = Check(ID, OK, f"local backend {path} is writable")
    for key in _checkpoint_keys(stack):
        if (path / key).is_file():
            try:
                return Backend(
                    check, _decode((path / key).read_bytes(), key, stack), str(path / key)
                )
            except (StateError, OSError) as exc:
                return Backend(check, None, f"{path / key}: {exc}")
    return Backend(check, StackState(stack, ()), f"{path}: no state for {stack} yet")


def check_backend(stack: str, region: str, *, read_state: bool = True) -> Backend:
    """The backend check, and the stack's state as the backend holds it (when it could be read
    and `read_state`)."""
    url, source = backend_url()
    scheme = urlsplit(url).scheme
    if scheme in {"http", "https"}:
        found = _service(url, stack)
    elif scheme == "s3":
        found = _s3(url, stack, region)
    elif scheme == "gs":
        found = _gcs(url, stack)
    elif scheme == "file":
        found = _local(url, stack)
    else:
        found = Backend(
            Check(
                ID,
                UNKNOWN,
                f"{url}: preflight cannot check a {scheme or 'schemeless'} backend",
                "run `pulumi whoami -v` to check it",
            )
        )
    check = found.check
    if not read_state:
        found = Backend(check)
    return Backend(
        Check(check.id, check.status, f"({source}) {check.detail}", check.fix),
        found.state,
        found.where,
    )
