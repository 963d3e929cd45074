"""`GET <api_url>/health` and the rule for "healthy" (runbook, "Check Overall System Status").

Healthy means: HTTP 200 within the timeout, a JSON object body, and both ``status`` and
``database`` equal to ``"healthy"``. Anything else is unhealthy with one reason: the
connection was refused, it timed out, the HTTP code, the body is not JSON, or which field is
not healthy.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from spendsense.errors import BadInput

HEALTH_PATH = "/health"


@dataclass(frozen=True)
class HealthResult:
    url: str
    healthy: bool
    status_code: int | None
    latency_ms: float | None
    api_version: str | None
    reason: str | None
    body: Any = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if data["latency_ms"] is not None:
            data["latency_ms"] = round(data["latency_ms"], 1)
        return data

    def summary(self) -> str:
        """One line for a person: `healthy (42 ms, api_version 1.0.0)` or the reason."""
        latency = f"{self.latency_ms:.0f} ms" if self.latency_ms is not None else "no answer"
        if self.healthy:
            return f"healthy ({latency}, api_version {self.api_version or 'unknown'})"
        return f"unhealthy: {self.reason} ({latency})"


def health_url(base_url: str, source: str = "--url") -> str:
    """The health endpoint of an API base URL (`https://x` -> `https://x/health`).

    A URL that already ends with /health is used as it is. `source` names where the URL came
    from (`--url`, or a stack output) for the one-line BadInput a malformed URL raises.
    """
    url = base_url.strip()
    if "://" not in url:
        url = f"https://{url}"  # App Runner's ServiceUrl has no scheme

    def bad(why: str) -> BadInput:
        shown = base_url if len(base_url) <= 80 else base_url[:80] + "..."
        return BadInput(
            f"{source}: {shown!r} is not an http(s) URL ({why}); pass e.g. https://api.example.com"
        )

    if not url.isprintable() or any(char.isspace() for char in url):
        raise bad("it contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number in 0..65535
        host = parts.hostname
    except ValueError as exc:  # "Invalid IPv6 URL", "Port out of range 0-65535", ...
        raise bad(str(exc)) from None
    if parts.scheme not in ("http", "https"):
        raise bad(f"scheme {parts.scheme!r}")
    if not host:
        raise bad("no host")
    try:
        host.encode("idna")
    except UnicodeError:
        raise bad(f"host name {host!r} cannot be encoded") from None
    if port == 0:
        raise bad("port 0")
    if parts.path.rstrip("/").endswith(HEALTH_PATH):
        return url
    return url.rstrip("/") + HEALTH_PATH


# A health answer is a few dozen bytes; a body larger than this is not one, and reading it
# whole would let a misbehaving endpoint fill memory.
BODY_MAX = 64 * 1024
_CHUNK = 8192


def _timed_out(timeout: float) -> str:
    return f"no answer within {timeout:g} s (timeout)"


class Watchdog:
    """Ends a request at its deadline, whatever phase it is in.

    requests' timeout applies to each socket operation, so a server that sends its status
    line, headers or body a byte at a time keeps a request going for ever. The session this
    makes records every socket it opens; at the deadline a timer shuts them down, which ends
    a blocked read at once, and `fired` tells the caller that this was a timeout.
    """

    def __init__(self, timeout: float) -> None:
        import threading

        self.fired = threading.Event()
        self._sockets: list[Any] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(timeout, self._fire)
        self._timer.daemon = True

    def session(self) -> requests.Session:
        from requests.adapters import HTTPAdapter
        from urllib3.connection import HTTPConnection, HTTPSConnection
        from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

        watchdog = self

        def recording(base: type[HTTPConnection]) -> type[HTTPConnection]:
            class Recording(base):  # type: ignore[valid-type,misc]
                def _new_conn(self) -> Any:
                    sock = super()._new_conn()
                    watchdog._opened(sock)
                    return sock

            return Recording

        pools = {
            "http": type(
                "HealthPool", (HTTPConnectionPool,), {"ConnectionCls": recording(HTTPConnection)}
            ),
            "https": type(
                "HealthTLSPool",
                (HTTPSConnectionPool,),
                {"ConnectionCls": recording(HTTPSConnection)},
            ),
        }

        class Adapter(HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                super().init_poolmanager(*args, **kwargs)
                self.poolmanager.pool_classes_by_scheme = pools

        session = requests.Session()
        session.mount("http://", Adapter())
        session.mount("https://", Adapter())
        return session

    def _opened(self, sock: Any) -> None:
        with self._lock:
            self._sockets.append(sock)
            late = self.fired.is_set()
        if late:
            self._shut(sock)

    @staticmethod
    def _shut(sock: Any) -> None:
        import contextlib
        import socket

        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)

    def _fire(self) -> None:
        with self._lock:
            self.fired.set()
            sockets = list(self._sockets)
        for sock in sockets:
            self._shut(sock)

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _read_body(response: requests.Response, deadline: float, timeout: float) -> tuple[bytes, str]:
    """The body, read chunk by chunk until `deadline` (time.monotonic()), at most BODY_MAX
    bytes; ("", reason) if it could not be read whole in time.

    requests' own timeout applies to each socket read, so a server that trickles a byte now
    and then would keep it reading for ever; the deadline bounds the whole answer.
    """
    from urllib3.exceptions import HTTPError as Urllib3Error
    from urllib3.exceptions import ReadTimeoutError

    chunks: list[bytes] = []
    size = 0
    raw = response.raw
    while True:
        if time.monotonic() >= deadline:
            return b"", _timed_out(timeout)
        try:
            chunk = raw.read1(_CHUNK, decode_content=True)
        except ReadTimeoutError:  # stalled in the middle of the body
            return b"", _timed_out(timeout)
        except (Urllib3Error, OSError) as exc:
            return b"", f"connection failed while reading the body ({type(exc).__name__})"
        if not chunk:
            return b"".join(chunks), ""
        size += len(chunk)
        if size > BODY_MAX:
            return b"", f"body is larger than {BODY_MAX // 1024} KB (not a health answer)"
        chunks.append(chunk)


def check_health(url: str, timeout: float) -> HealthResult:
    """Call the health endpoint `url` once and judge the answer (never raises for its faults).

    The whole answer, body included, must arrive within `timeout` seconds.
    """
    started = time.perf_counter()
    deadline = time.monotonic() + timeout

    def elapsed() -> float:
        return (time.perf_counter() - started) * 1000.0

    def result(healthy: bool, reason: str | None, **kw: Any) -> HealthResult:
        fields: dict[str, Any] = {"status_code": None, "latency_ms": None, "api_version": None}
        fields.update(kw)
        return HealthResult(url=url, healthy=healthy, reason=reason, **fields)

    with Watchdog(timeout) as watchdog, watchdog.session() as session:
        outcome = _get(session, url, timeout, deadline)
        if watchdog.fired.is_set():  # whatever broke the request, it was the deadline
            code = None if isinstance(outcome, str) else outcome[0]
            return result(False, _timed_out(timeout), status_code=code, latency_ms=elapsed())
    if isinstance(outcome, str):
        return result(False, outcome, latency_ms=elapsed() if "timeout" in outcome else None)
    code, content, problem, encoding = outcome
    latency = elapsed()
    if problem:
        return result(False, problem, status_code=code, latency_ms=latency)
    if latency > timeout * 1000.0:
        return result(
            False,
            f"answered after {latency:.0f} ms, over the {timeout:g} s timeout",
            status_code=code,
            latency_ms=latency,
        )
    text = content.decode(encoding or "utf-8", errors="replace")
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = None
    api_version = body.get("api_version") if isinstance(body, dict) else None
    common = {
        "status_code": code,
        "latency_ms": latency,
        "api_version": api_version if isinstance(api_version, str) else None,
        "body": body if body is not None else text[:200],
    }
    if code != 200:
        return result(False, f"HTTP {code}", **common)
    if not isinstance(body, dict):
        return result(False, "body is not a JSON object", **common)
    bad = [
        f"{field} is {body.get(field)!r}"
        for field in ("status", "database")
        if body.get(field) != "healthy"
    ]
    if bad:
        return result(False, ", ".join(bad) + " (expected 'healthy')", **common)
    return result(True, None, **common)


def _get(
    session: requests.Session, url: str, timeout: float, deadline: float
) -> str | tuple[int, bytes, str, str | None]:
    """GET `url`: (status code, body, problem reading the body, encoding), or the reason it
    failed."""
    try:
        response = session.get(
            url,
            timeout=timeout,
            headers={"Accept": "application/json"},
            allow_redirects=True,
            stream=True,
        )
    except requests.exceptions.Timeout:
        return _timed_out(timeout)
    except requests.exceptions.SSLError as exc:
        return f"TLS error ({type(exc).__name__})"
    except requests.exceptions.ConnectionError as exc:
        text = str(exc)
        if "refused" in text.lower():
            return "connection refused"
        if "Name or service not known" in text or "getaddrinfo" in text or "resolve" in text:
            return "host name does not resolve"
        return "connection failed"
    except requests.exceptions.RequestException as exc:
        return f"request failed ({type(exc).__name__})"
    except ValueError as exc:  # urllib3's LocationParseError, which requests lets through
        return f"not a valid URL ({type(exc).__name__})"
    try:
        content, problem = _read_body(response, deadline, timeout)
    finally:
        response.close()  # also ends a trickling answer we gave up on
    return response.status_code, content, problem, response.encoding
