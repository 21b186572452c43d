"""What code in the sandbox can reach: no network, no file of the host's but the sandbox runtime and
/usr (read-only), no environment of the host's, no way out of its namespaces, nowhere to write but
/mnt/data and its bounded temporary directories."""

from __future__ import annotations

import os
import socket
import sys

import pytest
from django.conf import settings
from django.db import connection

from sandbox import sessions

pytestmark = pytest.mark.usefixtures("sandbox")


def run(code: str) -> str:
    result = sessions.execute("attacker", code)
    assert result.error is None, result.error
    return result.logs


def connect_code(host: str, port: int) -> str:
    return (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(({host!r}, {port}), timeout=1)\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__, exc.errno)\n"
    )


def test_the_hosts_postgresql_port_cannot_be_reached():
    # 127.0.0.1 in the sandbox is its own loopback (bubblewrap brings one up), where nothing listens.
    assert run(connect_code("127.0.0.1", 5432)) == "ConnectionRefusedError 111\n"


def test_a_port_the_host_listens_on_cannot_be_reached():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert run(connect_code("127.0.0.1", port)) == "ConnectionRefusedError 111\n"


def test_an_outside_address_cannot_be_reached():
    assert run(connect_code("1.1.1.1", 53)).startswith("OSError 101")  # Network is unreachable


def test_names_do_not_resolve():
    logs = run(
        "import socket\ntry:\n    socket.getaddrinfo('pypi.org', 443)\nexcept OSError as exc:\n    print('failed')"
    )
    assert logs == "failed\n"


def test_the_only_network_interface_is_its_own_loopback():
    assert run("import socket\nprint(sorted(name for _, name in socket.if_nameindex()))") == "['lo']\n"


def test_host_files_are_not_visible():
    paths = [
        "/etc/shadow",
        "/etc/passwd",
        "/root",
        "/home",
        "/var",
        "/work",
        str(settings.BASE_DIR / "config" / "settings.py"),
        str(settings.BASE_DIR / ".env"),
        str(settings.MEDIA_ROOT),
        str(settings.SANDBOX_ROOT),
        sys.prefix,  # the app's venv
        str(connection.settings_dict["NAME"]),  # the database (a file on SQLite)
        "/var/run/postgresql",
        "/proc/1/root/etc/shadow",
    ]
    logs = run(f"import os\nfor path in {paths!r}:\n    print(path, os.path.exists(path))")
    assert logs.splitlines() == [f"{path} False" for path in paths]


def test_the_root_holds_only_the_sandbox_runtime_and_system_directories():
    listing = run("import os\nprint(sorted(os.listdir('/')))")
    system = [top for top in ("bin", "lib", "lib32", "lib64", "libx32", "sbin") if os.path.exists(f"/{top}")]
    assert listing == f"{sorted(['dev', 'etc', 'mnt', 'opt', 'proc', 'tmp', 'usr', *system])}\n"
    assert run("import os\nprint(os.listdir('/etc'), os.listdir('/opt'), os.listdir('/mnt'))") == (
        "['ld.so.cache'] ['python'] ['data']\n"
    )


def test_no_host_path_shows_in_the_sandboxes_own_processes():
    logs = run(
        "import os\n"
        "for pid in (p for p in os.listdir('/proc') if p.isdigit()):\n"
        "    for part in ('cmdline', 'environ'):\n"
        "        try:\n"
        "            print(open(f'/proc/{pid}/{part}', 'rb').read())\n"
        "        except OSError:\n"
        "            pass\n"
    )
    assert str(settings.BASE_DIR) not in logs and str(settings.SANDBOX_ROOT) not in logs


def test_environment_secrets_of_the_host_are_not_visible(monkeypatch):
    monkeypatch.setenv("CONCIERGE_TEST_SECRET", "s3cr3t-value")
    sessions.close("attacker")  # a session started after the secret was set
    logs = run(
        "import os\nprint(sorted(os.environ))\n"
        "print(any(b's3cr3t' in open(f'/proc/{p}/environ', 'rb').read() for p in os.listdir('/proc') if p.isdigit()))"
    )
    assert "s3cr3t" not in logs and "CONCIERGE_TEST_SECRET" not in logs
    assert "SECRET_KEY" not in logs and "DATABASE_URL" not in logs
    assert logs.splitlines()[-1] == "False"


@pytest.mark.parametrize(
    "path", ["/x", "/etc/x", "/usr/x", "/opt/python/x", "/opt/python/lib/x", "/dev/x", "/mnt/x", "/proc/x"]
)
def test_nothing_can_be_written_outside_mnt_data(path):
    logs = run(
        f"try:\n    open({path!r}, 'w').write('x')\n    print('wrote')\nexcept OSError as exc:\n    print(exc.errno)"
    )
    assert logs in ("30\n", "13\n", "2\n"), logs  # EROFS, EACCES, ENOENT


def test_mnt_data_and_the_temporary_directories_are_writable():
    code = "for path in ('/mnt/data/a', '/tmp/a', '/dev/shm/a'):\n    open(path, 'w').write('x')\nprint('ok')"
    assert run(code) == "ok\n"


def test_the_sandbox_runs_as_nobody_without_capabilities():
    logs = run(
        "import os\nstatus = open('/proc/self/status').read().splitlines()\n"
        "print(os.getuid(), os.getgid(), [line.split()[1] for line in status if line.startswith('CapEff')][0])"
    )
    assert logs == "65534 65534 0000000000000000\n"


def test_the_sandbox_has_namespaces_of_its_own():
    inside = run(
        "import os, socket\nprint(socket.gethostname())\n"
        "for ns in ('pid', 'ipc', 'uts', 'net', 'user', 'mnt'):\n    print(os.readlink(f'/proc/self/ns/{ns}'))\n"
        "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"
    ).splitlines()
    assert inside[0] == "sandbox"
    host = [os.readlink(f"/proc/self/ns/{ns}") for ns in ("pid", "ipc", "uts", "net", "user", "mnt")]
    assert all(theirs != ours for theirs, ours in zip(inside[1:7], host, strict=True))
    assert inside[7] == "[1, 2]"  # bubblewrap's init and the interpreter; nothing of the host


def test_the_sandbox_is_a_session_of_its_own_without_a_terminal():
    # Led by bubblewrap's init (--new-session); a host's session would read as 0 from in here.
    assert run("import os\nprint(os.getsid(0), os.isatty(0))") == "1 False\n"


def test_no_new_user_namespace_can_be_made_inside():
    logs = run(
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x10000000), os.strerror(ctypes.get_errno()))"  # CLONE_NEWUSER
    )
    assert logs.startswith("-1 ")


def test_host_processes_cannot_be_signalled():
    logs = run(f"import os\ntry:\n    os.kill({os.getpid()}, 9)\nexcept OSError as exc:\n    print(exc.errno)")
    assert logs == "3\n"  # ESRCH: the host's pids do not exist in here
