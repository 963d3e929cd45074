"""The documented shapes of the identifiers arguments carry into URLs and requests.

An identifier that ends up in a URL path (a Vercel deployment or project id, an export folder
in a bucket) or in a connection (an emulator's HOST:PORT) is checked here against its
documented shape before any request is made and before credentials are asked for, so that
`--to ../../x` or `--from daily/../../x` can never aim a request somewhere else. Each check is
BadInput (exit 2) naming the option, the expected shape and the value given.
"""

from __future__ import annotations

import ipaddress
import re

from spendsense.errors import BadInput

# Vercel names a deployment by its id or its hostname ("idOrUrl: the unique identifier or
# hostname of the deployment", https://vercel.com/docs/rest-api/deployments/get-a-deployment-by-id-or-url);
# ids are `dpl_` and letters/digits, as the API's `uid` and `vercel ls` show them. Project ids
# are `prj_...`; a project may also be named by its name (lowercase letters, digits, `.`, `_`,
# `-`, at most 100 characters).
_DEPLOYMENT_ID = re.compile(r"dpl_[A-Za-z0-9]{1,64}", re.ASCII)
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)", re.ASCII)
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_.-]{1,100}", re.ASCII)
# Exports: `daily/YYYYMMDD_HHMMSS/` or `manual-YYYYMMDD_HHMMSS/`, optionally after
# `gs://<bucket>/` (bucket names: https://cloud.google.com/storage/docs/buckets#naming).
_BUCKET = r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]"
_EXPORT = re.compile(
    rf"(?:gs://(?P<bucket>{_BUCKET})/)?(?P<folder>(?:[A-Za-z0-9_-][A-Za-z0-9_.-]{{0,99}}/)*"
    r"(?:manual-)?[0-9]{8}_[0-9]{6})/?",
    re.ASCII,
)


def is_hostname(host: str) -> bool:
    """A DNS name (labels of letters, digits and inner hyphens, at most 253 characters)."""
    if not host or len(host) > 253:
        return False
    return all(_HOST_LABEL.fullmatch(label) for label in host.rstrip(".").split("."))


def deployment_ref(value: str, option: str = "--to") -> str:
    """`--to` of `rollback frontend`: a deployment id (dpl_...), a deployment host
    (my-app-abc123.vercel.app) or an https URL of one (nothing after the host)."""
    text = value.strip()
    host = text
    if "://" in text:
        scheme, _, rest = text.partition("://")
        host = rest[:-1] if rest.endswith("/") else rest
        if scheme.lower() != "https":
            host = ""
    if _DEPLOYMENT_ID.fullmatch(text) or ("." in host and is_hostname(host)):
        return text
    shown = value if len(value) <= 80 else value[:80] + "..."
    raise BadInput(
        f"{option}: {shown!r} is not a deployment; pass a deployment id (dpl_ and letters or "
        "digits) or its URL (https://my-app-abc123.vercel.app) from `vercel ls --prod`, or "
        "leave --to out for the previous one"
    )


def path_segment(value: str, what: str) -> str:
    """An identifier from an API answer or an output about to go into a URL path: letters,
    digits, `.`, `_`, `-` (never `.` or `..`). A host name for `/v13/deployments/{host}` too."""
    if not _PATH_SEGMENT.fullmatch(value) or value in (".", ".."):
        shown = value if len(value) <= 80 else value[:80] + "..."
        raise BadInput(
            f"{what} {shown!r} is not an id (letters, digits, '.', '_' and '-'); refusing to "
            "put it into a Vercel API path"
        )
    return value


def export_path(value: str, option: str = "--from") -> str:
    """An export folder as `spendsense backup list` prints it, checked before anything is read:
    `[gs://BUCKET/]daily/YYYYMMDD_HHMMSS/` or `.../manual-YYYYMMDD_HHMMSS/` (no `.` or `..`
    folder, no spaces, ASCII only). Whether the bucket is the stack's is judged later."""
    text = value.strip()
    match = _EXPORT.fullmatch(text)
    folders = match.group("folder").split("/") if match else []
    if match is None or any(part in (".", "..") or ".." in part for part in folders):
        shown = value if len(value) <= 120 else value[:120] + "..."
        raise BadInput(
            f"{option}: {shown!r} is not an export folder; expected gs://<bucket>/daily/"
            "YYYYMMDD_HHMMSS/ or gs://<bucket>/manual-YYYYMMDD_HHMMSS/ (or the same without "
            "gs://<bucket>/; see `spendsense backup list`)"
        )
    return text


def host_port(value: str, option: str) -> tuple[str, int]:
    """`HOST:PORT` of a server to connect to: a DNS name or IP address (IPv6 in brackets) and a
    port 1-65535."""
    text = value.strip()
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        inner = host[1:-1]
        try:
            ipaddress.IPv6Address(inner)
            good_host = True
        except ValueError:
            good_host = False
    else:
        good_host = is_hostname(host)
    expected = (
        "HOST:PORT with a host name or IP address and a port from 1 to 65535 (e.g. localhost:8080)"
    )
    shown = value if len(value) <= 80 else value[:80] + "..."
    if not sep or not good_host:
        raise BadInput(f"{option}: {shown!r} is not {expected}")
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise BadInput(f"{option}: {shown!r} has no valid port ({port!r}); pass {expected}")
    return host, int(port)
