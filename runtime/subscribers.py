"""What every subscriber of a thread's events shares (the customer's socket, the console's socket).

The engine publishes (runtime.events); subscribers relay what their people should see.
"""

from __future__ import annotations

from runtime import events

# A run's events as a chat shows them: the assistant is thinking, waits for something, is done, or failed.
RUN_STATES = {
    "thread.run.queued": "thinking",
    "thread.run.in_progress": "thinking",
    "thread.run.requires_action": "waiting",
    "thread.run.completed": "done",
    "thread.run.incomplete": "done",
    "thread.run.cancelled": "done",
    "thread.run.expired": "failed",
    "thread.run.failed": "failed",
}


class RelaysThreadEvents:
    """A channels consumer mixin: thread events (single or batched) go straight to `thread_event`,
    one by one.

    channels closes stale database connections before every handler it dispatches to, which costs
    a hop to a worker thread per event; relaying an event touches no database (what does, goes
    through common.threads.in_worker, which gives its connection back in its own thread).
    """

    async def dispatch(self, message: dict) -> None:
        if message.get("type") in (events.EVENT_TYPE, events.BATCH_TYPE):
            for event in events.unbatch(message):
                await self.thread_event(event)
        else:
            await super().dispatch(message)
