"""Celery task of the sandbox: the beat's sweep of idle sessions (each host's worker sweeps its own)."""

from __future__ import annotations

from celery import shared_task

from sandbox import sessions


@shared_task(name="sandbox.tasks.sweep", ignore_result=True)
def sweep() -> int:
    """End the sandbox sessions of this host idle past SANDBOX_SESSION_IDLE_SECONDS."""
    return sessions.sweep()
