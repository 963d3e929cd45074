"""The Firestore emulator's process: started on a free loopback port, stopped with its whole
process group, and administered over its own endpoints (rules, wipe, export, import).

What it owns: starting `gcloud emulators firestore start` in its own process group (gcloud
starts a `java` child, so the whole group is stopped), waiting until `GET /` answers `Ok`,
loading security rules through the emulator's rules endpoint, wiping, exporting and
importing (see the package's docstring for the emulator's measured behaviour).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from spendsense.firestore_emulator.rest import (
    DEFAULT_DATABASE,
    DEFAULT_PROJECT,
    EmulatorError,
    FirestoreRest,
    Result,
)

INSTALL_HINT = (
    "install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install) and then "
    "`gcloud components install cloud-firestore-emulator` (or the apt package "
    "google-cloud-cli-firestore-emulator); it needs Java 11+"
)


class EmulatorUnavailable(EmulatorError):
    """gcloud or its Firestore emulator component is not installed on this machine."""


class RulesCompileError(EmulatorError):
    """The emulator could not compile a rules file (the message has its line and column)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def emulator_available() -> str | None:
    """None when `gcloud` (with Java) is present, else a one-line reason with how to install."""
    if shutil.which("gcloud") is None:
        return f"the Firestore emulator needs `gcloud`, which is not on PATH: {INSTALL_HINT}"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return f"the Firestore emulator needs Java, which is not on PATH: {INSTALL_HINT}"
    return None


class FirestoreEmulator:
    """Google's Firestore emulator on a loopback port, as a context manager.

    >>> with FirestoreEmulator() as emulator:
    ...     emulator.load_rules(Path("firestore/firestore.rules").read_text())
    ...     emulator.rest().set("users/alice", {"name": "Alice"})
    """

    def __init__(
        self,
        project: str = DEFAULT_PROJECT,
        port: int | None = None,
        host: str = "127.0.0.1",
        start_timeout: float = 60.0,
    ) -> None:
        self.project = project
        self.port = port
        self.host_name = host
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self._session = requests.Session()
        self._external = False

    @classmethod
    def connect(cls, host: str, project: str = DEFAULT_PROJECT) -> FirestoreEmulator:
        """An emulator someone else started (`HOST:PORT`): `start()` only checks that it
        answers, and `stop()` leaves it running."""
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit():
            raise EmulatorError(f"emulator host must be HOST:PORT (got {host!r})")
        emulator = cls(project=project, port=int(port), host=name)
        emulator._external = True
        return emulator

    # Addresses
    @property
    def host(self) -> str:
        """`HOST:PORT`, the value for FIRESTORE_EMULATOR_HOST."""
        if self.port is None:
            raise EmulatorError("the Firestore emulator has not been started")
        return f"{self.host_name}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    def rest(self, project: str | None = None, database: str = DEFAULT_DATABASE) -> FirestoreRest:
        """The REST client for a project on this emulator."""
        return FirestoreRest(
            self.base_url, project or self.project, database, session=self._session
        )

    # Lifecycle
    def __enter__(self) -> FirestoreEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> FirestoreEmulator:
        """Start the emulator and wait until `GET /` answers `Ok`."""
        if self.running:
            return self
        if self._external:
            try:
                response = self._session.get(f"{self.base_url}/", timeout=5)
            except requests.RequestException as exc:
                raise EmulatorError(
                    f"no Firestore emulator answers at {self.base_url}: {exc}"
                ) from exc
            if not (response.ok and response.text.strip() == "Ok"):
                raise EmulatorError(
                    f"{self.base_url} is not a Firestore emulator (GET / answered "
                    f"HTTP {response.status_code}: {response.text[:80]!r})"
                )
            return self
        reason = emulator_available()
        if reason is not None:
            raise EmulatorUnavailable(reason)
        auto_port = self.port is None
        for attempt in range(3):
            if auto_port:
                self.port = free_port(self.host_name)
            try:
                self._launch()
                return self
            except EmulatorError as exc:
                # A free port can be taken between choosing it and Java binding it.
                if not auto_port or attempt == 2 or "Address already in use" not in str(exc):
                    raise
        return self

    def _launch(self) -> None:
        gcloud = shutil.which("gcloud") or "gcloud"
        log_fd, log_name = tempfile.mkstemp(prefix="firestore-emulator-", suffix=".log")
        self._log_path = Path(log_name)
        env = dict(os.environ, CLOUDSDK_CORE_DISABLE_PROMPTS="1")
        env.pop("FIRESTORE_EMULATOR_HOST", None)
        try:
            self._process = subprocess.Popen(
                [gcloud, "emulators", "firestore", "start", f"--host-port={self.host}"],
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends the java child too
                env=env,
            )
        except OSError as exc:
            raise EmulatorUnavailable(f"cannot run gcloud ({exc}): {INSTALL_HINT}") from exc
        finally:
            os.close(log_fd)
        atexit.register(self.stop)
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                log = self.log_tail()
                self.stop()
                if "not installed" in log or "components install" in log:
                    raise EmulatorUnavailable(
                        f"the Firestore emulator component is missing: {INSTALL_HINT} "
                        f"(gcloud said: {log[-300:]})"
                    )
                raise EmulatorError(
                    f"the Firestore emulator exited with code {code} before it was ready "
                    f"(port {self.port}); its log ends: {log}"
                )
            try:
                response = self._session.get(f"{self.base_url}/", timeout=1)
                if response.ok and response.text.strip() == "Ok":
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        log = self.log_tail()
        self.stop()
        raise EmulatorError(
            f"the Firestore emulator did not answer on {self.base_url} within "
            f"{self.start_timeout:.0f} s; its log ends: {log}"
        )

    def log_tail(self, lines: int = 8) -> str:
        """The last lines of the emulator's output without Java stack frames, on one line
        (for error messages)."""
        if self._log_path is None or not self._log_path.exists():
            return "(no log)"
        kept = []
        for raw in self._log_path.read_text(errors="replace").splitlines():
            line = raw.removeprefix("[firestore]").strip()
            if not line or line.startswith("at ") or (line.startswith("...") and "more" in line):
                continue
            kept.append(line)
        return " | ".join(kept[-lines:]) or "(empty)"

    def stop(self) -> None:
        """Stop the emulator's whole process group (gcloud and its java child); idempotent."""
        process, self._process = self._process, None
        if process is not None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            # The group can outlive its leader (gcloud's java child): wait, then kill it.
            deadline = time.monotonic() + 5
            while _signal_group(process.pid, 0):
                if time.monotonic() > deadline:
                    _signal_group(process.pid, signal.SIGKILL)
                    break
                time.sleep(0.1)
        atexit.unregister(self.stop)
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    # Emulator administration
    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        url = f"{self.base_url}/emulator/v1/{path}"
        try:
            response = self._session.request(method, url, json=body, timeout=60)
        except requests.RequestException as exc:
            raise EmulatorError(f"Firestore emulator at {self.base_url}: {exc}") from exc
        try:
            payload: Any = response.json()
        except ValueError:
            payload = response.text
        if not response.ok:
            result = Result(response.status_code, payload)
            raise EmulatorError(
                f"{method} {url} failed with HTTP {response.status_code}: {result.message}"
            )
        return payload

    def load_rules(self, text: str, project: str | None = None) -> list[str]:
        """Load security rules for a project; returns the compiler's warnings as lines.

        Raises RulesCompileError (one line, with line:column) if the rules do not compile.
        """
        url = f"{self.base_url}/emulator/v1/projects/{project or self.project}:securityRules"
        body = {"rules": {"files": [{"name": "firestore.rules", "content": text}]}}
        try:
            response = self._session.put(url, json=body, timeout=60)
        except requests.RequestException as exc:
            raise EmulatorError(f"Firestore emulator at {self.base_url}: {exc}") from exc
        try:
            payload: Any = response.json()
        except ValueError:
            payload = {"error": {"message": response.text}}
        if not response.ok:
            message = Result(response.status_code, payload).message
            raise RulesCompileError(" ".join(message.split()) or f"HTTP {response.status_code}")
        warnings = []
        for issue in payload.get("issues", []) if isinstance(payload, dict) else []:
            position = issue.get("sourcePosition", {})
            warnings.append(
                f"L{position.get('line', '?')}:{position.get('column', '?')} "
                f"{issue.get('severity', 'WARNING')}: {issue.get('description', '')}"
            )
        return warnings

    def wipe(self, project: str | None = None) -> None:
        """Delete every document of the project's default database."""
        self._admin(
            "DELETE", f"projects/{project or self.project}/databases/{DEFAULT_DATABASE}/documents"
        )

    def export(self, directory: str, project: str | None = None) -> str:
        """Export the project's data into `directory` (created if needed), the layout a managed
        export writes; returns the folder the emulator wrote (`.../firestore_export_<n>`)."""
        target = Path(directory).resolve()
        target.mkdir(parents=True, exist_ok=True)
        # The emulator names the folder after the current second and overwrites a folder of
        # the same name: wait for the next second rather than overwrite an earlier export.
        while (target / f"firestore_export_{int(time.time())}").exists():
            time.sleep(0.1)
        before = {path.name for path in target.glob("firestore_export_*")}
        p = project or self.project
        self._admin(
            "POST",
            f"projects/{p}:export",
            {
                "database": f"projects/{p}/databases/{DEFAULT_DATABASE}",
                "export_directory": str(target),
            },
        )
        written = [path for path in target.glob("firestore_export_*") if path.name not in before]
        if len(written) != 1:
            raise EmulatorError(
                f"the emulator answered the export, but {len(written)} new firestore_export_* "
                f"folders appeared in {target} (expected one)"
            )
        return str(written[0])

    def import_(self, directory: str, project: str | None = None) -> None:
        """Import an export into the project (merging: exported documents overwrite, others stay).

        `directory` is an export folder (the one holding `*.overall_export_metadata`, as
        `export()` returns or a managed export writes) or that metadata file itself.
        """
        metadata = overall_metadata_file(directory)
        p = project or self.project
        self._admin(
            "POST",
            f"projects/{p}:import",
            {
                "database": f"projects/{p}/databases/{DEFAULT_DATABASE}",
                "export_directory": str(metadata),
            },
        )


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a process group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def overall_metadata_file(directory: str) -> Path:
    """The `.overall_export_metadata` file of an export folder (or the file itself)."""
    path = Path(directory).resolve()
    if path.is_file() and path.name.endswith(".overall_export_metadata"):
        return path
    if not path.is_dir():
        raise EmulatorError(
            f"no export at {path}: expected a folder with an .overall_export_metadata file"
        )
    found = sorted(path.glob("*.overall_export_metadata"))
    if len(found) != 1:
        raise EmulatorError(
            f"{path} holds {len(found)} .overall_export_metadata files; expected exactly one "
            "(pass the export's own folder, e.g. .../firestore_export_<n>)"
        )
    return found[0]
