"""Limits and crashes: each ends its execution with a message the model can read, the host is
unharmed, no process of the sandbox outlives it, and the next execution works (in the same session,
or in a fresh one it is told about). The conftest's limits are small (16 MiB of disk…); the timeout
tests set 2 s of wall time."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time

import pytest

from sandbox import bubblewrap, directories, sessions

pytestmark = pytest.mark.usefixtures("sandbox")


def sandbox_processes(key: str) -> list[int]:
    """The host pids of every process in the session's sandbox but bubblewrap's init."""
    init = bubblewrap.sandbox_init(directories.for_key(key) / "status.json")
    return bubblewrap.descendants(init) if init else []


@pytest.fixture
def two_seconds(sandbox_settings):
    sandbox_settings.SANDBOX_WALL_SECONDS = 2


@pytest.mark.usefixtures("two_seconds")
def test_an_endless_loop_times_out_and_the_session_keeps_its_state():
    sessions.execute("loop", "kept = 'still here'")
    began = time.monotonic()
    result = sessions.execute("loop", "while True:\n    pass")
    assert result.error.startswith("Execution timed out after 2 s")
    assert 2 <= time.monotonic() - began < 4
    after = sessions.execute("loop", "kept")
    assert not after.fresh_session and after.logs == "'still here'\n"


@pytest.mark.usefixtures("two_seconds")
def test_a_loop_that_swallows_the_timeout_is_ended_with_its_session():
    sessions.execute("stubborn", "kept = 1")
    code = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
    began = time.monotonic()
    result = sessions.execute("stubborn", code)
    assert result.error.startswith("Execution timed out after 2 s; the interpreter did not stop")
    assert "fresh session" in result.error
    assert time.monotonic() - began < 6
    assert sandbox_processes("stubborn") == []
    after = sessions.execute("stubborn", "'kept' in globals()")
    assert after.fresh_session and after.logs == "False\n"


def test_cpu_time_past_the_limit_ends_the_execution(sandbox_settings):
    sandbox_settings.SANDBOX_CPU_SECONDS = 1
    sandbox_settings.SANDBOX_WALL_SECONDS = 10
    result = sessions.execute("cpu", "kept = 1\nwhile True:\n    pass")
    assert result.error.startswith("CPU time limit exceeded: 1 s")
    assert sessions.execute("cpu", "kept").logs == "1\n"


def test_a_thread_left_spinning_after_its_cell_gets_one_more_cpu_budget_then_the_session_ends(sandbox_settings):
    sandbox_settings.SANDBOX_CPU_SECONDS = 1
    code = "import threading\ndef spin():\n    while True:\n        pass\n"
    code += "threading.Thread(target=spin, daemon=True).start()"
    assert sessions.execute("spin", f"{code}\nkept = 1").error is None
    directory = directories.for_key("spin")
    deadline = time.monotonic() + 20  # one CPU second; slower on a loaded machine
    while directories.is_alive(directory) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not directories.is_alive(directory)
    result = sessions.execute("spin", "'kept' in globals()")
    assert result.fresh_session and result.logs == "False\n"


def test_an_8_gib_allocation_is_a_memory_error_and_the_session_goes_on():
    result = sessions.execute("memory", "kept = 1\nimport numpy\nhuge = numpy.ones(8 * 2**30, dtype=numpy.uint8)")
    assert result.error.startswith("Memory limit exceeded (MemoryError)")
    assert "MemoryError" in result.error.splitlines()[-1]
    result = sessions.execute("memory", "blob = bytearray(8 * 2**30)")
    assert result.error.startswith("Memory limit exceeded (MemoryError)")
    after = sessions.execute("memory", "kept")
    assert not after.fresh_session and after.logs == "1\n"


def in_its_pid_namespace(key: str) -> list[int]:
    """Every process of the host in the session's PID namespace, zombies included."""
    status = (directories.for_key(key) / "status.json").read_text().splitlines()[0]
    namespace = f"pid:[{json.loads(status)['pid-namespace']}]"
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/ns/pid") == namespace:
                found.append(int(pid))
    return found


def test_a_fork_bomb_is_contained_and_nothing_of_it_survives():
    result = sessions.execute("bomb", "import os\nwhile True:\n    os.fork()")
    assert "Resource temporarily unavailable" in result.error, result
    assert len(sandbox_processes("bomb")) == 1  # the interpreter, alone
    assert sessions.execute("bomb", "print('after')").logs == "after\n"
    # bubblewrap's init and the interpreter, and soon not even a zombie (init collects orphans as
    # it gets the CPU, the interpreter its own children before each cell)
    assert eventually(lambda: len(in_its_pid_namespace("bomb")) == 2)


def eventually(condition, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_the_process_limit_counts_each_sessions_own_processes():
    # 2 x 24 processes at once, under a limit of 32: fine if each session counts its own (each has a
    # user namespace of its own), EAGAIN if all sessions counted as one user (nobody) of the host.
    code = "import subprocess\nchildren = [subprocess.Popen(['sleep', '1']) for _ in range(24)]\n"
    code += "print(sum(child.wait() == 0 for child in children))"
    results = {}
    threads = [
        threading.Thread(target=lambda key=key: results.setdefault(key, sessions.execute(key, code)))
        for key in ("one", "two")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[key].logs for key in ("one", "two")] == ["24\n", "24\n"], results


def test_a_shell_fork_bomb_is_contained_too():
    sessions.execute("bomb", "import subprocess, time\nsubprocess.run(['sh', '-c', ':(){ :|:& };:'])\ntime.sleep(0.5)")
    assert len(sandbox_processes("bomb")) == 1
    assert sessions.execute("bomb", "print('after')").logs == "after\n"


def test_processes_started_by_a_cell_end_with_it():
    code = "import subprocess\nsubprocess.Popen(['sleep', '1000'])\nsubprocess.Popen(['sh', '-c', 'sleep 999 &'])"
    assert sessions.execute("background", code).error is None
    assert len(sandbox_processes("background")) == 1
    sessions.execute("background", "pass")
    assert eventually(lambda: len(in_its_pid_namespace("background")) == 2)


def test_filling_the_disk_stops_at_its_size_and_the_session_recovers():
    code = "for n in range(100):\n    with open(f'fill-{n}.bin', 'wb') as f:\n        f.write(b'x' * 4 * 2**20)"
    result = sessions.execute("disk", code)
    assert "No space left on device" in result.error
    assert "disk is full" in result.error
    total = sum(len(file.content) for file in result.files)
    assert total <= 16 * 2**20
    cleared = sessions.execute("disk", "import glob, os\nfor p in glob.glob('fill-*'):\n    os.remove(p)\nprint('ok')")
    assert cleared.logs == "ok\n"
    assert sessions.execute("disk", "open('small.txt', 'w').write('fits')").error is None


def test_filling_tmp_stops_at_its_size():
    result = sessions.execute("disk", "open('/tmp/big', 'wb').write(b'x' * 64 * 2**20)")
    assert "No space left on device" in result.error


def test_a_file_past_the_file_size_limit_cannot_be_written():
    result = sessions.execute("disk", "open('big.bin', 'wb').write(b'x' * 9 * 2**20)")
    assert "File too large" in result.error
    assert sessions.execute("disk", "print('alive')").logs == "alive\n"


def test_open_files_are_limited():
    result = sessions.execute("files", "handles = [open('/dev/null') for _ in range(1000)]")
    assert "Too many open files" in result.error
    assert sessions.execute("files", "print('ok')").logs == "ok\n"


def test_a_huge_output_is_truncated_with_a_note():
    result = sessions.execute("output", "print('x' * 1_000_000)\nprint('é' * 10)")
    kept, note = result.logs.split("\n… ")
    assert kept == "x" * 2000
    assert note == f"[output truncated: {1_000_000 + 1 + 10 + 1 - 2000} more characters]"


@pytest.mark.usefixtures("two_seconds")
def test_an_endless_output_is_truncated_and_timed_out():
    result = sessions.execute("output", "while True:\n    print('spam ' * 100)")
    assert result.error.startswith("Execution timed out after 2 s")
    assert len(result.logs) < 2200 and "[output truncated:" in result.logs


def test_binary_output_reads_as_escaped_text():
    code = "import sys, os\nsys.stdout.buffer.write(b'\\xff\\xfe\\x00ok\\n')\nsys.stdout.flush()\nprint('\\udcff')\n"
    code += "os.write(1, b'\\x80raw\\n')"
    result = sessions.execute("binary", code)
    assert result.error is None
    assert result.logs.startswith("\\xff\\xfe\\x00ok\n\\udcff\n\\x80raw\n")
    assert "\x00" not in result.logs
    result.logs.encode("utf-8")  # no lone surrogate


@pytest.mark.parametrize(
    ("code", "how"),
    [
        ("import os\nos.abort()", "signal 6, SIGABRT"),
        ("import os\nos._exit(3)", "exit status 3"),
        ("import ctypes\nctypes.string_at(0)", "signal 11, SIGSEGV"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "signal 9, SIGKILL"),
    ],
    ids=["abort", "exit", "segfault", "sigkill"],
)
def test_a_crash_of_the_interpreter_is_reported_and_a_fresh_session_follows(code, how):
    sessions.execute("crash", "kept = 1\nprint('before the crash')")
    result = sessions.execute("crash", f"print('last words', flush=True)\n{code}")
    assert result.error.startswith(f"The interpreter crashed ({how})")
    assert "fresh session" in result.error
    assert result.logs == "last words\n"
    assert sandbox_processes("crash") == []
    after = sessions.execute("crash", "'kept' in globals()")
    assert after.fresh_session and after.logs == "False\n" and after.error is None


def test_a_cell_that_exits_reads_as_an_exception():
    result = sessions.execute("exit", "kept = 1\nimport sys\nsys.exit(2)")
    assert "SystemExit: 2" in result.error
    assert sessions.execute("exit", "kept").logs == "1\n"
