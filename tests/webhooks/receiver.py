"""A webhook receiver for tests: an HTTP server on 127.0.0.1 in a thread of its own.

It records every request it gets (path, headers with lower-case names, raw body) and answers each
with the next scripted answer (200 "ok" once the script is used up).
"""

from __future__ import annotations

import queue
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Scripted:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow receiver)
    drip: float = 0.0  # seconds between the body's bytes (a receiver that answers a byte at a time)


class Receiver:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Received] = []
        self.errors: list[str] = []  # what went wrong on the receiver's side (a client that hung up)
        self._script: queue.Queue[Scripted] = queue.Queue()
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver.requests.append(Received(self.path, headers, body))
                receiver.arrived.set()
                try:
                    answer = receiver._script.get_nowait()
                except queue.Empty:
                    answer = Scripted()
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if not answer.drip:
                    self.wfile.write(answer.body)
                for byte in answer.body if answer.drip else b"":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(answer.drip)

            def log_message(self, format: str, *args) -> None:
                """Quiet: the test reads `requests` instead."""

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                receiver.errors.append(repr(sys.exc_info()[1]))

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls is not None:  # an https receiver: the listening socket speaks TLS
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/concierge"

    def answer(self, *answers: Scripted) -> None:
        for scripted in answers:
            self._script.put(scripted)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
