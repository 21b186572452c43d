"""When bubblewrap cannot run: `manage.py check` says why (sandbox.W001) and no code runs at all.
When sessions get no cgroup: it says their memory is bounded per process only (sandbox.W002)."""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from sandbox import bubblewrap, cgroups, checks, directories, sessions, tasks


@pytest.fixture
def fresh_probe():
    bubblewrap.forget_availability()
    yield
    bubblewrap.forget_availability()


@pytest.fixture
def fake_bin():
    """A directory for a fake bwrap that nobody (whom bubblewrap runs as under root) may run and write in."""
    directory = Path(tempfile.mkdtemp(prefix="sbx-bin-"))
    directory.chmod(0o777)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def fake_bwrap(directory: Path, script: str) -> None:
    path = directory / "bwrap"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


def test_without_bubblewrap_the_check_warns_and_nothing_runs(fresh_probe, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap anywhere
    marker = tmp_path / "ran"
    [warning] = checks.bubblewrap_can_run(None)
    assert warning.id == "sandbox.W001"
    assert "bubblewrap (bwrap) is not installed" in warning.msg
    with pytest.raises(sessions.SandboxUnavailable, match="not installed"):
        sessions.execute("thread-1", f"open({str(marker)!r}, 'w').write('ran')")
    assert not marker.exists()


def test_when_bubblewrap_cannot_make_namespaces_the_check_says_what_it_said(fresh_probe, monkeypatch, fake_bin):
    fake_bwrap(fake_bin, "echo 'bwrap: No permissions to creating new namespace' >&2\nexit 1")
    monkeypatch.setenv("PATH", f"{fake_bin}:/usr/bin:/bin")
    ok, why = sessions.availability()
    assert not ok
    assert "bubblewrap cannot run a sandbox here: bwrap: No permissions to creating new namespace" in why
    [warning] = checks.bubblewrap_can_run(None)
    assert "No permissions to creating new namespace" in warning.msg
    with pytest.raises(sessions.SandboxUnavailable, match="No permissions"):
        sessions.execute("thread-1", "print(1)")


def test_without_the_sandbox_runtime_the_check_names_the_setting(fresh_probe, sandbox_settings, tmp_path):
    sandbox_settings.SANDBOX_PYTHON = tmp_path / "missing" / "bin" / "python"
    ok, why = sessions.availability()
    assert not ok and "SANDBOX_PYTHON" in why and "make sandbox" in why


def test_a_root_too_long_for_unix_sockets_is_refused(fresh_probe, sandbox_settings):
    sandbox_settings.SANDBOX_ROOT = Path("/tmp") / ("x" * 80)
    ok, why = sessions.availability()
    assert not ok and "too long" in why


def test_a_root_others_may_write_to_or_a_link_is_refused(fresh_probe, sandbox_settings, tmp_path):
    shared = Path(tempfile.mkdtemp(prefix="sbx-"))
    try:
        shared.chmod(0o777)
        sandbox_settings.SANDBOX_ROOT = shared
        ok, why = sessions.availability()
        assert not ok and "no one else may write to" in why
        shared.chmod(0o700)
        link = Path(tempfile.mktemp(prefix="sbx-"))
        link.symlink_to(shared)
        sandbox_settings.SANDBOX_ROOT = link
        assert not sessions.availability()[0]
        link.unlink()
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_the_probe_runs_once(fresh_probe, monkeypatch, fake_bin):
    counter = fake_bin / "calls"
    fake_bwrap(fake_bin, f"echo call >> {counter}\nexit 1")
    monkeypatch.setenv("PATH", f"{fake_bin}:/usr/bin:/bin")
    for _ in range(3):
        sessions.availability()
    assert counter.read_text() == "call\n"


def test_manage_py_check_prints_the_warning_and_why(fresh_probe, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    output = io.StringIO()
    call_command("check", stdout=output, stderr=output)
    assert "(sandbox.W001) code_interpreter is not offered: bubblewrap (bwrap) is not installed" in output.getvalue()


def test_with_bubblewrap_the_check_is_silent(sandbox):
    assert checks.bubblewrap_can_run(None) == []
    output = io.StringIO()
    call_command("check", stdout=output, stderr=output)
    assert "sandbox.W001" not in output.getvalue()


def test_the_beat_sweeps_idle_sessions(sandbox, sandbox_settings):
    assert settings.CELERY_BEAT_SCHEDULE["sweep-sandbox-sessions"]["task"] == tasks.sweep.name
    sessions.execute("thread-1", "x = 1")
    sandbox_settings.SANDBOX_SESSION_IDLE_SECONDS = 0
    assert tasks.sweep.apply().get() == 1
    assert sessions.execute("thread-1", "'x' in globals()").fresh_session


def test_without_a_cgroup_the_check_gives_the_worst_case_and_sessions_run_as_before(sandbox, sandbox_settings):
    sandbox_settings.SANDBOX_CGROUP_PARENT = "none"
    [warning] = checks.session_memory_is_bounded(None)
    assert warning.id == "sandbox.W002"
    assert warning.msg.startswith("Per-session memory is bounded only per process: 32 processes × 1 GiB = 32 GiB")
    assert "32 MiB of files in its tmpfs, with up to 8 sessions" in warning.msg  # the conftest's sizes
    assert warning.msg.endswith("SANDBOX_CGROUP_PARENT is none.")
    output = io.StringIO()
    call_command("check", stdout=output, stderr=output)
    assert "(sandbox.W002) Per-session memory is bounded only per process" in output.getvalue()
    result = sessions.execute("thread-1", "print('ran')")
    assert result.logs == "ran\n" and result.error is None
    assert cgroups.of_session(directories.for_key("thread-1")) is None


def test_with_session_cgroups_the_check_is_silent(session_cgroups):
    assert checks.session_memory_is_bounded(None) == []


def test_without_bubblewrap_only_w001_is_given(fresh_probe, monkeypatch, tmp_path, sandbox_settings):
    monkeypatch.setenv("PATH", str(tmp_path))
    sandbox_settings.SANDBOX_CGROUP_PARENT = "none"
    assert checks.session_memory_is_bounded(None) == []
