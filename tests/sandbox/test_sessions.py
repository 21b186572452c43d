"""Sessions: state across executions, files in and out, figures, and the life of a session (close,
idle expiry, eviction, another process of the host, another host)."""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from sandbox import bubblewrap, directories, sessions

pytestmark = pytest.mark.usefixtures("sandbox")
PNG = b"\x89PNG\r\n\x1a\n"


def test_state_persists_across_executions():
    first = sessions.execute("thread-1", "import math\nx = 41")
    second = sessions.execute("thread-1", "print(x + 1, math.pi > 3)")
    assert first.fresh_session and not second.fresh_session
    assert second.error is None
    assert second.logs == "42 True\n"


def test_a_trailing_expression_is_shown_like_a_notebook_cell():
    result = sessions.execute("thread-1", "print('before')\n6 * 7")
    assert result.logs == "before\n42\n"
    assert sessions.execute("thread-1", "None").logs == ""


def test_stdout_and_stderr_interleave_as_printed():
    code = "import sys\nprint('one')\nprint('two', file=sys.stderr)\nprint('three')\nimport os\nos.system('echo four')"
    assert sessions.execute("thread-1", code).logs.splitlines()[:4] == ["one", "two", "three", "four"]


def test_an_exception_reads_as_the_cells_traceback_only():
    result = sessions.execute("thread-1", "def f():\n    return 1 / 0\n\nf()")
    assert result.error.startswith("Traceback (most recent call last):")
    assert 'File "<cell 1>", line 4' in result.error and "return 1 / 0" in result.error
    assert result.error.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "repl_server" not in result.error and "exec(" not in result.error
    assert sessions.execute("thread-1", "print(f.__name__)").logs == "f\n"  # defined before the error


@pytest.mark.parametrize("code", ["print('a')\x00", "print('\udc80')", "x = '\ud800'"])
def test_code_with_a_nul_or_a_lone_surrogate_is_an_error_or_runs_and_the_session_goes_on(code):
    sessions.execute("thread-1", "kept = 1")
    result = sessions.execute("thread-1", code)
    assert result.error is None or "Error" in result.error
    result.logs.encode("utf-8")
    assert sessions.execute("thread-1", "kept").logs == "1\n"


def test_a_syntax_error_is_reported_and_the_session_goes_on():
    sessions.execute("thread-1", "kept = 1")
    result = sessions.execute("thread-1", "def (:")
    assert "SyntaxError" in result.error
    assert sessions.execute("thread-1", "kept").logs == "1\n"


def test_sessions_of_two_threads_share_nothing():
    sessions.execute("thread-1", "secret = 'one'\nopen('mine.txt', 'w').write('one')")
    other = sessions.execute("thread-2", "import os\nprint('secret' in globals(), os.listdir('/mnt/data'))")
    assert other.logs == "False []\n"


def test_input_files_are_copied_into_mnt_data_and_are_not_outputs():
    result = sessions.execute(
        "thread-1",
        "import pandas as pd\ndf = pd.read_csv('/mnt/data/sales.csv')\nprint(df.amount.sum())",
        files=[("sales.csv", b"region,amount\nnorth,10\nsouth,32\n")],
    )
    assert result.error is None, result.error
    assert result.logs == "42\n"
    assert result.files == []


def test_an_identical_input_file_is_not_copied_again():
    files = [("data.txt", b"same bytes")]
    first = sessions.execute("thread-1", "import os\nos.stat('data.txt').st_mtime_ns", files=files)
    again = sessions.execute("thread-1", "import os\nos.stat('data.txt').st_mtime_ns", files=files)
    changed = sessions.execute("thread-1", "open('data.txt').read()", files=[("data.txt", b"new bytes")])
    assert first.logs == again.logs
    assert changed.logs == "'new bytes'\n"


def test_input_file_names_cannot_leave_mnt_data():
    files = [("../../etc/passwd", b"a"), ("..", b"b"), ("dir\\evil.txt", b"c"), ("nul\x00name.csv", b"d")]
    result = sessions.execute("thread-1", "import os\nsorted(os.listdir('/mnt/data'))", files=files)
    assert result.logs == "['evil.txt', 'file', 'nulname.csv', 'passwd']\n"


def test_a_large_input_file_is_copied_whole():
    content = bytes(range(256)) * (7 * 4096)  # 7 MiB: the disk holds 16, a file 8
    files = [("big.bin", content)]
    code = "import hashlib\nhashlib.sha256(open('big.bin', 'rb').read()).hexdigest()"
    result = sessions.execute("thread-1", code, files=files)
    assert result.logs == f"'{hashlib.sha256(content).hexdigest()}'\n" and result.files == []


def test_input_files_larger_than_the_disk_are_refused_before_anything_runs():
    result = sessions.execute("thread-1", "print('ran')", files=[("huge.bin", b"x" * (17 * 2**20))])
    assert result.error.startswith("The input files (17825792 bytes) do not fit in /mnt/data (16777216 bytes)")
    assert result.logs == ""


def test_an_input_file_that_does_not_fit_beside_the_sessions_files_is_reported_and_no_code_runs():
    sessions.execute("thread-1", "kept = 1\nopen('filler.bin', 'wb').write(b'x' * 7 * 2**20)\nprint('ran')")
    result = sessions.execute(
        "thread-1", "print('ran')", files=[("a.bin", b"a" * 6 * 2**20), ("b.bin", b"b" * 6 * 2**20)]
    )
    assert result.error.startswith("The input file b.bin could not be copied into /mnt/data")
    assert "No space left on device" in result.error and result.logs == ""
    assert (
        sessions.execute("thread-1", "import os\nkept, sorted(os.listdir())").logs == "(1, ['a.bin', 'filler.bin'])\n"
    )


def test_files_written_or_changed_are_returned_and_others_are_not():
    sessions.execute("thread-1", "open('old.txt', 'w').write('old')\nopen('same.txt', 'w').write('same')")
    result = sessions.execute(
        "thread-1",
        "import os\nopen('old.txt', 'a').write(' and new')\nos.makedirs('charts')\n"
        "open('charts/a.csv', 'w').write('x,y')\nos.symlink('/etc/passwd', 'link')",
    )
    assert {file.name: file.content for file in result.files} == {"charts/a.csv": b"x,y", "old.txt": b"old and new"}


def test_a_file_past_the_output_size_is_not_returned_and_the_logs_say_so(sandbox_settings):
    sandbox_settings.SANDBOX_MAX_OUTPUT_FILE_BYTES = 1000
    result = sessions.execute("thread-1", "open('big.bin', 'wb').write(b'x' * 5000)\nopen('ok.txt', 'w').write('ok')")
    assert [file.name for file in result.files] == ["ok.txt"]
    assert "/mnt/data/big.bin (5000 bytes) is larger than 1000 bytes and was not returned" in result.logs


def test_an_unreadable_file_is_not_returned_and_the_logs_say_so():
    result = sessions.execute("thread-1", "import os\nopen('secret.txt', 'w').write('x')\nos.chmod('secret.txt', 0)")
    assert result.files == []
    assert result.logs == "[/mnt/data/secret.txt cannot be read and was not returned.]\n"


def test_notes_on_files_follow_even_a_truncated_output(sandbox_settings):
    sandbox_settings.SANDBOX_MAX_OUTPUT_FILE_BYTES = 10
    result = sessions.execute("thread-1", "print('y' * 5000)\n_ = open('big.txt', 'w').write('z' * 100)")
    note = "[/mnt/data/big.txt (100 bytes) is larger than 10 bytes and was not returned.]"
    assert result.logs.endswith(f"[output truncated: 3001 more characters]\n{note}\n")


def test_figures_shown_or_left_open_are_captured_as_png_in_order():
    code = (
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3]); plt.title('first'); plt.show()\n"
        "plt.figure()\n_ = plt.bar(['a', 'b'], [3, 4])\n"  # left open: captured at the end of the cell
    )
    result = sessions.execute("thread-1", code)
    assert result.error is None, result.error
    assert result.logs == ""  # nor "Matplotlib is building the font cache": it was built with the runtime
    assert len(result.images) == 2
    assert all(image.content.startswith(PNG) for image in result.images)
    assert sessions.execute("thread-1", "plt.get_fignums()").logs == "[]\n"  # closed once captured


def test_a_figure_saved_to_mnt_data_is_a_file():
    code = "import matplotlib.pyplot as plt\nplt.plot([1])\nplt.savefig('c.png')\nplt.close()"
    result = sessions.execute("thread-1", code)
    assert [file.name for file in result.files] == ["c.png"]
    assert result.files[0].content.startswith(PNG)


def test_close_ends_the_session_and_its_processes():
    sessions.execute("thread-1", "x = 1")
    state = directories.read_state(directories.for_key("thread-1"))
    init = bubblewrap.sandbox_init(directories.for_key("thread-1") / "status.json")
    sessions.close("thread-1")
    assert not bubblewrap.is_running(state["bwrap_pid"], state["bwrap_started"])
    assert not Path(f"/proc/{init}").exists() and not Path(f"/proc/{state['repl_pid']}").exists()  # not even zombies
    assert not directories.for_key("thread-1").exists()
    result = sessions.execute("thread-1", "'x' in globals()")
    assert result.fresh_session and result.logs == "False\n"


def test_the_sweep_ends_sessions_idle_past_the_setting(sandbox_settings):
    sessions.execute("idle", "x = 1")
    sessions.execute("recent", "x = 1")
    os.utime(directories.for_key("idle") / "state.json", (time.time() - 120, time.time() - 120))
    sandbox_settings.SANDBOX_SESSION_IDLE_SECONDS = 60
    assert sessions.sweep() == 1
    assert sessions.execute("idle", "x").fresh_session
    assert not sessions.execute("recent", "x").fresh_session


def test_the_least_recently_used_idle_session_is_evicted_past_the_cap(sandbox_settings):
    sandbox_settings.SANDBOX_MAX_SESSIONS = 2
    sessions.execute("oldest", "x = 1")
    sessions.execute("newer", "x = 2")
    sessions.execute("oldest", "x")  # used again: now "newer" is the least recently used
    sessions.execute("third", "x = 3")
    assert not sessions.execute("oldest", "x").fresh_session
    evicted = sessions.execute("newer", "'x' in globals()")
    assert evicted.fresh_session and evicted.logs == "False\n"


def test_a_session_whose_interpreter_died_starts_fresh():
    sessions.execute("thread-1", "x = 1")
    directory = directories.for_key("thread-1")
    state, init = directories.read_state(directory), bubblewrap.sandbox_init(directory / "status.json")
    init_started = bubblewrap.start_time(init)
    os.kill(state["bwrap_pid"], 9)  # its interpreter dies with it (--die-with-parent)
    while bubblewrap.is_running(init, init_started):
        time.sleep(0.01)
    result = sessions.execute("thread-1", "'x' in globals()")
    assert result.fresh_session and result.logs == "False\n" and result.error is None


def test_another_host_starts_a_fresh_session_and_this_host_keeps_its_own(sandbox_settings):
    sessions.execute("thread-1", "x = 'host a'")
    host_a = sandbox_settings.SANDBOX_ROOT
    host_b = Path(tempfile.mkdtemp(prefix="sbx-"))
    sandbox_settings.SANDBOX_ROOT = host_b
    try:
        elsewhere = sessions.execute("thread-1", "globals().get('x')")
        assert elsewhere.fresh_session and elsewhere.logs == ""
    finally:
        sandbox_settings.SANDBOX_SESSION_IDLE_SECONDS = -1
        sessions.sweep()
        sandbox_settings.SANDBOX_SESSION_IDLE_SECONDS = 3600
        sandbox_settings.SANDBOX_ROOT = host_a
    back = sessions.execute("thread-1", "x")
    assert not back.fresh_session and back.logs == "'host a'\n"


@pytest.mark.slow  # a second Django process
def test_another_process_of_the_host_reaches_the_same_session():
    sessions.execute("thread-1", "x = 'from the test process'")
    script = (
        "import django; django.setup()\n"
        "from sandbox import sessions\n"
        "result = sessions.execute('thread-1', 'print(x)')\n"
        "print(result.fresh_session, result.logs, end='')\n"
    )
    env = {**os.environ, "SANDBOX_ROOT": str(settings.SANDBOX_ROOT), "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    completed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert completed.stdout == "False from the test process\n", completed.stderr[-2000:]


@pytest.mark.slow  # a second Django process
def test_a_session_dies_with_the_process_that_started_it():
    script = (
        "import django, sys, time; django.setup()\n"
        "from sandbox import bubblewrap, directories, sessions\n"
        "sessions.execute('orphan', 'x = 1')\n"
        "print(bubblewrap.sandbox_init(directories.for_key('orphan') / 'status.json'), flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "SANDBOX_ROOT": str(settings.SANDBOX_ROOT), "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    owner = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
    try:
        init = int(owner.stdout.readline())
        started = bubblewrap.start_time(init)
        assert bubblewrap.is_running(init, started)
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 5
    while bubblewrap.is_running(init, started) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not bubblewrap.is_running(init, started)  # and with it, everything in its PID namespace
    after = sessions.execute("orphan", "'x' in globals()")
    assert after.fresh_session and after.logs == "False\n"


def test_executions_of_one_session_run_one_at_a_time():
    sessions.execute("thread-1", "import time\nspans = []")
    code = "s = time.monotonic()\ntime.sleep(0.2)\nspans.append((s, time.monotonic()))"
    threads = [threading.Thread(target=sessions.execute, args=("thread-1", code)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spans = eval(sessions.execute("thread-1", "sorted(spans)").logs)
    assert len(spans) == 3
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))


def test_executions_of_different_sessions_run_side_by_side():
    for key in ("a", "b", "c"):
        sessions.execute(key, "import time")
    began = time.monotonic()
    threads = [threading.Thread(target=sessions.execute, args=(key, "time.sleep(1)")) for key in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - began < 2  # one after the other: 3 s
