"""What the local peers that answer JSON (Google's APIs, Cloud Monitoring, Vercel, the
preflight's web APIs) share: a quiet request handler with a JSON answer, and a server on a
loopback port that runs in a daemon thread."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing (pytest shows what a test prints) and answers
    JSON with its length, as the documented APIs do."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def start_peer(
    handler: type[JsonHandler], peer: object, port: int = 0, poll: float = 0.5
) -> ThreadingHTTPServer:
    """Serve `peer` (the handler's `peer` attribute) on 127.0.0.1:`port` (0: a free one)
    from a daemon thread; the caller shuts the server down."""
    bound = type("Handler", (handler,), {"peer": peer})
    server = ThreadingHTTPServer(("127.0.0.1", port), bound)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(poll,), daemon=True).start()
    return server
