"""The services bench/chaos.py owns and breaks: its own PostgreSQL and Redis, the offline model behind
a fault-injecting proxy, and Concierge's processes (daphne, Celery workers, beat).

Nothing here touches a shared server: PostgreSQL is initdb'd into a temporary directory and Redis
runs without persistence, each on a free port, so the harness can stop and restart them mid-load.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_BIN = Path(os.environ.get("CHAOS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "concierge-chaos"  # PostgreSQL refuses to run as root: as root it runs as this system user


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")


def answers(url: str) -> bool:
    """True once the server at `url` answers at all (a 401 is an answer)."""
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(url, timeout=2)
    return True


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- PostgreSQL --------------------------------------------------------------------------------


class Postgres:
    """A throwaway PostgreSQL 15 cluster on 127.0.0.1:port (trust auth, no fsync)."""

    def __init__(self, root: Path, max_connections: int) -> None:
        self.root = root
        self.data = root / "pgdata"
        self.log = root / "postgres.log"
        self.port = free_port()
        self.max_connections = max_connections
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/concierge"

    def _as_pg(self, *command: str) -> list[str]:
        return ["runuser", "-u", PG_USER, "--", *command] if os.geteuid() == 0 else list(command)

    def init(self) -> None:
        if os.geteuid() == 0 and subprocess.run(["id", "-u", PG_USER], capture_output=True).returncode != 0:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER], check=True
            )
        self.data.mkdir(mode=0o700)
        self.log.touch()
        if os.geteuid() == 0:
            self.root.chmod(0o755)
            shutil.chown(self.data, PG_USER)
            shutil.chown(self.log, PG_USER)
        subprocess.run(
            self._as_pg(
                str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                "--locale=C.UTF-8",
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        self.start()
        subprocess.run(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "concierge"],
            check=True,
        )

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' -c fsync=off "
            f"-c synchronous_commit=off -c full_page_writes=off -c max_connections={self.max_connections}"
        )
        subprocess.run(
            self._as_pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                        "-t", "60", "start"),
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            self._as_pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-m", mode, "stop"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def restart(self, down_seconds: float) -> None:
        """Stop (fast: every connection is cut), stay down, start again."""
        self.stop("fast")
        time.sleep(down_seconds)
        self.start()


# --- Redis -------------------------------------------------------------------------------------


class Redis:
    """A redis-server without persistence: a restart loses everything in it (queued tasks too)."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.log = root / "redis.log"
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._pings, timeout=15, what="redis-server")

    def _pings(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def restart(self, down_seconds: float) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


# --- The model, behind a fault-injecting proxy -------------------------------------------------

FAULTS = (
    "429_retry_after",
    "429",
    "500",
    "503",
    "reset",  # the connection closed before any byte (what a crashed server or a refused connection looks like)
    "timeout_before_first_byte",
    "stream_cut",
    "malformed_chunk",
    "invalid_tool_arguments",
)


@dataclass
class FaultCounts:
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    refused_windows: int = 0

    def add(self, fault: str) -> None:
        self.faults[fault] = self.faults.get(fault, 0) + 1


class QuietServer(ThreadingHTTPServer):
    """A killed worker drops its connection mid-request: expected here, not worth a traceback."""

    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass


class FaultProxy:
    """An HTTP proxy to the model server that fails `rate` of chat completion requests, one of
    FAULTS picked at random (a tool-argument fault only where the answer has a tool call), and can
    refuse connections for a while (its listener closed)."""

    def __init__(self, upstream_port: int, *, timeout_seconds: float, seed: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.rate = 0.0
        self.pace_seconds = 0.0  # a pause before each streamed chunk it relays (the kills phase's slow model)
        self.timeout_seconds = timeout_seconds
        self.random = random.Random(seed)
        self.counts = FaultCounts()
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                proxy.forward(self, None, "")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.forward(self, body, proxy.pick_fault() if self.path.endswith("/chat/completions") else "")

        self.server = QuietServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def refuse_for(self, seconds: float) -> None:
        """Close the listener: connections are refused until it opens again."""
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            self.counts.refused_windows += 1
        time.sleep(seconds)
        self.start()

    def pick_fault(self) -> str:
        with self.lock:
            self.counts.requests += 1
            if self.random.random() >= self.rate:
                return ""
            return self.random.choice(FAULTS)

    def _record(self, fault: str) -> None:
        with self.lock:
            self.counts.add(fault)

    def forward(self, handler: BaseHTTPRequestHandler, body: bytes | None, fault: str) -> None:
        if fault in ("429_retry_after", "429", "500", "503"):
            self._record(fault)
            status = int(fault[:3])
            payload = json.dumps({"error": {"message": f"injected {fault}", "type": "chaos", "code": None}}).encode()
            handler.send_response(status)
            if fault == "429_retry_after":
                handler.send_header("retry-after", "1")
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        if fault == "reset":
            self._record(fault)
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            handler.close_connection = True
            handler.connection.close()
            return
        if fault == "timeout_before_first_byte":
            self._record(fault)
            time.sleep(self.timeout_seconds + 1)
            handler.close_connection = True
            return
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        headers = {"Content-Type": "application/json", "Authorization": handler.headers.get("Authorization", "")}
        upstream.request(handler.command, handler.path, body=body, headers=headers)
        response = upstream.getresponse()
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.getheader("Content-Type", "application/json"))
        if "event-stream" not in (response.getheader("Content-Type") or ""):
            data = response.read()
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            upstream.close()
            return
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        self._relay_stream(handler, response, fault)
        upstream.close()

    def _relay_stream(self, handler, response, fault: str) -> None:
        """Pass the server-sent events on, one `data:` line at a time, breaking them as `fault` says."""
        events = 0
        cut_after = self.random.randint(2, 6)
        done_fault = False
        while True:
            line = response.readline()
            if not line:
                break
            if line.startswith(b"data: ") and line.strip() != b"data: [DONE]":
                events += 1
                if self.pace_seconds:
                    time.sleep(self.pace_seconds)
                if fault == "stream_cut" and events > cut_after:
                    self._record(fault)
                    handler.close_connection = True
                    return  # the chunked body never ends: the client sees the stream cut
                if fault == "malformed_chunk" and events == cut_after and not done_fault:
                    done_fault = True
                    self._record(fault)
                    self._send_chunk(handler, b'data: {"id": "chatcmpl-chaos", "choices": [{"delta": {"cont\n\n')
                if fault == "invalid_tool_arguments" and b'"arguments"' in line:
                    line, broken = _break_arguments(line)
                    if broken and not done_fault:
                        done_fault = True
                        self._record(fault)
            self._send_chunk(handler, line)
        self._send_chunk(handler, b"")

    @staticmethod
    def _send_chunk(handler, data: bytes) -> None:
        handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()


def _break_arguments(line: bytes) -> tuple[bytes, bool]:
    """The chunk with its tool call's arguments made invalid JSON (a brace too few)."""
    chunk = json.loads(line[len(b"data: ") :])
    broken = False
    for choice in chunk.get("choices") or ():
        for call in (choice.get("delta") or {}).get("tool_calls") or ():
            arguments = (call.get("function") or {}).get("arguments")
            if arguments:
                call["function"]["arguments"] = arguments.rstrip("}") + ', "oops'
                broken = True
    return b"data: " + json.dumps(chunk).encode() + b"\n", broken


# --- Concierge's processes ---------------------------------------------------------------------


class Deployment:
    """daphne, Celery workers and beat, and the model server, each a process with its own log."""

    def __init__(self, root: Path, env: dict[str, str], *, workers: int, threads: int, web_port: int) -> None:
        self.root = root
        self.env = env
        self.workers = workers
        self.threads = threads
        self.web_port = web_port
        self.processes: dict[str, subprocess.Popen] = {}
        self.log_offsets: dict[str, int] = {}  # where each process's current life begins in its log
        self.spawned_at: dict[str, float] = {}
        self.commands: dict[str, tuple[list[str], dict[str, str]]] = {}
        self.url = f"http://127.0.0.1:{web_port}"
        self.exits: list[dict] = []  # every exit the supervisor saw: who, when, how, whether the harness killed it
        self.killed: set[int] = set()
        self.supervising = threading.Event()
        # Seconds the supervisor waits before starting a dead worker again: a loaded machine's slow start
        # (17-18 s was seen), reproduced on a quiet one (bench/chaos.py --worker-start-delay).
        self.worker_start_delay = 0.0

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        self.commands[name] = (command, env or self.env)
        log_path = self.root / f"{name}.log"
        self.log_offsets[name] = log_path.stat().st_size if log_path.exists() else 0
        self.spawned_at[name] = time.time()
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command, cwd=PROJECT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes[name] = process
        return process

    def supervise(self) -> None:
        """Start again every process that exits, as systemd's Restart=always would (in a thread)."""
        self.supervising.set()

        due: dict[str, float] = {}  # a dead worker's restart, when its start is delayed

        def watch() -> None:
            while self.supervising.is_set():
                for name, process in list(self.processes.items()):
                    code = process.poll()
                    if code is None or not self.supervising.is_set():
                        continue
                    if name not in due:
                        killed = process.pid in self.killed
                        self.exits.append(
                            {"process": name, "at": time.time(), "code": code, "killed_by_harness": killed}
                        )
                        due[name] = time.monotonic() + (self.worker_start_delay if name.startswith("worker") else 0)
                    if time.monotonic() >= due[name]:
                        del due[name]
                        command, env = self.commands[name]
                        self._spawn(name, command, env)
                time.sleep(0.2)

        threading.Thread(target=watch, daemon=True).start()

    def unexpected_exits(self) -> list[dict]:
        return [exit for exit in self.exits if not exit["killed_by_harness"]]

    def manage(self, *args: str, quiet: bool = True) -> None:
        out = subprocess.DEVNULL if quiet else None
        subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=PROJECT, env=self.env, check=True, stdout=out)

    def start_processes(self, model_port: int, token_delay_ms: float) -> None:
        """The model server, the workers, beat and daphne, without waiting for them."""
        self.model_port = model_port
        self._spawn(
            "model",
            [str(BIN / "python"), "manage.py", "serve_offline_model", "--port", str(model_port), "--token-delay-ms",
             str(token_delay_ms)],
        )  # fmt: skip
        for index in range(self.workers):
            self.start_worker(f"worker{index + 1}")
        self._spawn(
            "beat",
            [str(BIN / "celery"), "-A", "config", "beat", "--loglevel=INFO", "-s", str(self.root / "beat-schedule")],
            env={**self.env, "DB_POOL_MAX_SIZE": "2"},
        )
        self._spawn(
            "daphne",
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.web_port), "--websocket_connect_timeout", "30",
             "config.asgi:application"],
        )  # fmt: skip

    def wait_until_ready(self) -> None:
        model = f"http://127.0.0.1:{self.model_port}/v1/models"
        wait_for(lambda: urllib.request.urlopen(model, timeout=2).status == 200, timeout=90, what="the model server")
        wait_for(lambda: answers(f"{self.url}/v1/assistants"), timeout=90, what="daphne")
        for index in range(self.workers):
            self.wait_ready(f"worker{index + 1}")

    def start_worker(self, name: str) -> subprocess.Popen:
        return self._spawn(
            name,
            [str(BIN / "celery"), "-A", "config", "worker", "-P", "threads", "-c", str(self.threads), "-Q",
             self.env["CELERY_QUEUE"], "--without-mingle", "--without-gossip", "--loglevel=INFO", "-n",
             f"{name}@%h"],
            env={**self.env, "DB_POOL_MAX_SIZE": str(self.threads + 2)},
        )  # fmt: skip

    def wait_ready(self, name: str, timeout: float = 90) -> None:
        wait_for(lambda: self.ready(name), timeout=timeout, what=f"celery {name}")

    def ready(self, name: str) -> bool:
        """The worker's current process is up and consuming (its own "ready." line, not a predecessor's)."""
        process = self.processes[name]
        if process.poll() is not None:
            return False
        with (self.root / f"{name}.log").open("rb") as log:
            log.seek(self.log_offsets.get(name, 0))
            return b"ready." in log.read()

    def log_count(self, names: list[str], *needles: bytes) -> int:
        """How many lines of these processes' logs (every life of each) hold all of `needles`."""
        return sum(
            1
            for name in names
            for line in (self.root / f"{name}.log").read_bytes().splitlines()
            if all(needle in line for needle in needles)
        )

    def worker_names(self) -> list[str]:
        return [name for name in self.processes if name.startswith("worker")]

    def kill(self, name: str) -> int:
        """SIGKILL the process (the supervisor starts it again)."""
        process = self.processes[name]
        self.killed.add(process.pid)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        return process.pid

    def alive(self) -> dict[str, bool]:
        return {name: process.poll() is None for name, process in self.processes.items()}

    def rss(self) -> dict[str, float]:
        return {name: round(rss_mb(p.pid), 1) for name, p in self.processes.items() if p.poll() is None}

    def stop(self) -> None:
        self.supervising.clear()
        time.sleep(0.3)
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
