"""The code interpreter's sandbox (sandbox.sessions): what a session costs to start and to use.

    cold start        execute() on a new session key: bubblewrap, the interpreter's start, print(1)
    warm overhead     execute("print(1)") on a live session: the round trip through the socket,
                      the lock, the output pipe and the stray-process check
    8 sessions        executions per second with 8 sessions executing print(1) at once from 8
                      threads (as a Celery worker's thread pool would), and their latency
    first imports     a fresh session's first `import pandas` and `import matplotlib.pyplot`
                      (not part of the targets: what a first analysis cell pays once per session)

Targets (issue 17): cold start p50 under 300 ms, warm overhead p50 under 20 ms. Needs the sandbox
(`make sandbox`):

    .venv/bin/python bench/sandbox.py [--cold 30] [--warm 300] [--seconds 10]

Prints figures; it asserts nothing. Record them in docs/benchmarks.md with the command and the
machine's load (`uptime`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

from sandbox import cgroups, sessions  # noqa: E402


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.1f} ms   p99 {p99:7.1f} ms   (n={len(ordered)})"


def timed(key: str, code: str) -> float:
    began = time.perf_counter()
    result = sessions.execute(key, code)
    elapsed = (time.perf_counter() - began) * 1000
    if result.error:
        raise SystemExit(f"{key}: {result.error}")
    return elapsed


def cold_start(count: int) -> list[float]:
    samples = []
    for index in range(count):
        key = f"cold-{index}"
        samples.append(timed(key, "print(1)"))
        sessions.close(key)
    return samples


def warm_overhead(count: int) -> list[float]:
    timed("warm", "print(1)")
    samples = [timed("warm", "print(1)") for _ in range(count)]
    sessions.close("warm")
    return samples


def concurrent(sessions_count: int, seconds: float) -> tuple[float, list[float]]:
    keys = [f"busy-{index}" for index in range(sessions_count)]
    for key in keys:
        timed(key, "print(1)")
    samples: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def work(key: str) -> None:
        mine = []
        while time.perf_counter() < deadline:
            mine.append(timed(key, "print(1)"))
        with lock:
            samples.extend(mine)

    began = time.perf_counter()
    threads = [threading.Thread(target=work, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    for key in keys:
        sessions.close(key)
    return len(samples) / elapsed, samples


def first_imports() -> list[tuple[str, float]]:
    figures = []
    for module in ("pandas", "matplotlib.pyplot"):
        timed("imports", "print(1)")
        figures.append((module, timed("imports", f"import {module}")))
        sessions.close("imports")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=30)
    parser.add_argument("--warm", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sbx-bench-"))
    settings.SANDBOX_ROOT = root
    settings.SANDBOX_MAX_SESSIONS = 16
    ok, why = sessions.availability()
    if not ok:
        raise SystemExit(f"The sandbox cannot run here: {why}")
    try:
        print(f"load average before: {' '.join(f'{value:.2f}' for value in os.getloadavg())}, {os.cpu_count()} cores")
        layout, why = cgroups.availability()
        print(f"sessions' cgroups: {layout.describe() if layout else f'none ({why})'}")
        print(f"cold start        {percentiles(cold_start(options.cold))}")
        print(f"warm overhead     {percentiles(warm_overhead(options.warm))}")
        rate, samples = concurrent(8, options.seconds)
        print(f"8 sessions        {rate:7.1f} executions/s; latency {percentiles(samples)}")
        for module, elapsed in first_imports():
            print(f"first import {module:<17} {elapsed:7.1f} ms (one sample)")
        print(f"load average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    finally:
        settings.SANDBOX_SESSION_IDLE_SECONDS = -1
        sessions.sweep()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
