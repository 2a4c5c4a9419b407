"""A small local HTTP server for the Loki and Prometheus tests: it answers recorded JSON
responses by path and records every request it gets (path, query, headers)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Recorder:
    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[dict[str, Any]] = []
        self.delays: dict[str, float] = {}  # path -> seconds before answering (timeouts)

    def json(self, path: str, body: Any, status: int = 200) -> None:
        self.routes[path] = (status, {"Content-Type": "application/json"},
                             json.dumps(body).encode())

    def raw(self, path: str, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self.routes[path] = (status, headers, body)


def serve(recorder: Recorder) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            recorder.requests.append({"path": parts.path, "raw_path": self.path,
                                      "query": parse_qs(parts.query),
                                      "headers": dict(self.headers.items())})
            time.sleep(recorder.delays.get(parts.path, 0))
            status, headers, body = recorder.routes.get(
                parts.path, (404, {"Content-Type": "text/plain"}, b"not recorded"))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
