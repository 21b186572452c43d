"""Writing the assistant's message as the model streams it.

The message and its message_creation step open at the first piece of text (the API's order:
step.created, step.in_progress, message.created with empty content, message.in_progress, deltas,
message.completed, step.completed). The events that open them go out with that text before the two
rows are stored: the customer's first words do not wait for the inserts, which are done in the gap
before the model's next piece. (An API client that fetches the message by the id in
`thread.message.created` within those few milliseconds waits until the writer releases it:
runtime.events.wait_for_message.)

Deltas are published in batches (settings.STREAM_BATCH_MS), not one event per token: the Redis
channel layer drops messages past a consumer's capacity. Each flush also saves the text so far as
the thread's stream snapshot, from which a reconnecting subscriber resumes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from runtime import events
from runtime.engine.citations import MessageFile, annotations_for, file_path_annotations, image_part
from runtime.engine.model import SinkRefused
from runtime.models import Message, Run, RunStep, Thread
from runtime.runs.messages import store_finished, store_opened
from runtime.serializers import message_obj, step_obj, text_part


class HumanTookOver(SinkRefused):
    """A person owns the thread now: the assistant must not post."""


POSTING_MODES = (Thread.Mode.ASSISTANT, Thread.Mode.WAITING_HUMAN)


def assistant_may_post(thread_pk: int) -> bool:
    """Checked at the moment of posting, not when the run started (a takeover may have happened since)."""
    return Thread.objects.filter(pk=thread_pk, mode__in=POSTING_MODES).exists()


class MessageWriter:
    def __init__(self, run: Run, *, may_post: Callable[[], bool]) -> None:
        """`may_post()` says whether the assistant may still post, asked when a message opens."""
        self.run = run
        self.may_post = may_post
        self.thread_id = run.thread.public_id
        self.message: Message | None = None
        self.step: RunStep | None = None
        self.text = ""
        self._pending = ""
        self._sent_first = False
        self._last_flush = 0.0
        # Files the run's built-in tools made (runtime.engine.citations): the images go with the next
        # message finished; links are annotated in every message of this execution that says them.
        self._images: list[str] = []
        self._links: dict[str, str] = {}
        self.written: list[str] = []  # the text of each message stored, completed or not

    @property
    def started(self) -> bool:
        return self.message is not None

    def add_files(self, files: list[MessageFile]) -> None:
        """Files a tool call made, for the answer: its images, and the links its text may say."""
        for file in files:
            if file.image and file.file_id not in self._images:
                self._images.append(file.file_id)
            if file.link:
                self._links[file.link] = file.file_id

    def write(self, piece: str) -> None:
        opening = self._open() if self.message is None else []
        self.text += piece
        self._pending += piece
        # The first words go out at once (time to first token), with the events that open the
        # message; later ones in batches.
        if opening:
            self._announce_and_store(opening)
        elif (time.monotonic() - self._last_flush) * 1000 >= settings.STREAM_BATCH_MS:
            self.flush()

    def _open(self) -> list[tuple[str, dict]]:
        """The message and its step, not stored yet; returns the events that announce them."""
        if not self.may_post():
            raise HumanTookOver()
        run = self.run
        self.message = Message(
            thread=run.thread,
            role=Message.Role.ASSISTANT,
            author=Message.Author.ASSISTANT,
            author_name=run.assistant.name if run.assistant_id else "",
            content=[],
            status=Message.Status.IN_PROGRESS,
            assistant=run.assistant,
            run=run,
        )
        self.step = RunStep(run=run, type=RunStep.Type.MESSAGE_CREATION, message=self.message)
        return [
            ("thread.run.step.created", step_obj(self.step)),
            ("thread.run.step.in_progress", step_obj(self.step)),
            ("thread.message.created", message_obj(self.message)),
            ("thread.message.in_progress", message_obj(self.message)),
        ]

    def _announce_and_store(self, opening: list[tuple[str, dict]]) -> None:
        """Publish the opening events with the first words, then store the message and its step.
        If either fails, the error goes up and fails the run, and no half-open message is left,
        in this writer or in a snapshot a reconnecting customer would resume from."""
        message_id = self.message.public_id
        try:
            self.flush(opening)
            store_opened(self.message, self.step)
        except Exception:
            self._reset()
            events.clear_stream_snapshot(self.thread_id)
            raise
        finally:
            # A /v1 caller may be waiting for it (runtime.api.access). Only a /v1 thread (one with
            # an owner) has callers who can ask for a message by its id: the widget's pay nothing.
            if self.run.thread.owner_id is not None:
                events.release_message(message_id)

    def flush(self, opening: list[tuple[str, dict]] = ()) -> None:
        """Publish the text not yet sent (after `opening`, the events that announce the message)."""
        if self.message is None or not (self._pending or opening):
            return
        items = list(opening)
        if self._pending:
            text = {"value": self._pending}
            if not self._sent_first:
                text["annotations"] = []  # the SDKs expect the list on a block's first delta only
                self._sent_first = True
            delta = {
                "id": self.message.public_id,
                "object": "thread.message.delta",
                "delta": {"content": [{"index": 0, "type": "text", "text": text}]},
            }
            items.append(("thread.message.delta", delta))
            self._pending = ""
        seq = events.publish_many(self.thread_id, items)
        self._save_snapshot(seq)
        self._last_flush = time.monotonic()

    def _save_snapshot(self, seq: int) -> None:
        events.save_stream_snapshot(
            self.thread_id, message_id=self.message.public_id, run_id=self.run.public_id, text=self.text, seq=seq
        )

    def finish(
        self,
        *,
        prompt_tokens: int,
        completion_tokens: int,
        incomplete_reason: str | None = None,
        unless_taken_over: bool = False,
    ) -> None:
        """Complete the message (or leave it incomplete, e.g. at max_tokens) and its step. With
        `unless_taken_over`, HumanTookOver, and the message still open, if a person took the
        conversation over (checked as the message is stored)."""
        if self.message is None:
            return
        self.flush()
        now = timezone.now()
        message, step = self.message, self.step
        annotations = annotations_for(self.run, self.text) + file_path_annotations(self.text, self._links)
        annotations.sort(key=lambda annotation: annotation["start_index"])
        message.content = [text_part(self.text, annotations)]
        announced: list[tuple[str, dict]] = []
        if self._images and incomplete_reason in (None, "max_tokens"):
            # The images come after the text part the deltas streamed (index 0), announced by one delta
            # before the message completes: the SDKs accumulate a message's parts by their index.
            images = [image_part(file_id) for file_id in self._images]
            self._images = []
            message.content += images
            delta = {"content": [{"index": i, **part} for i, part in enumerate(images, start=1)]}
            announced.append(
                ("thread.message.delta", {"id": message.public_id, "object": "thread.message.delta", "delta": delta})
            )
        if incomplete_reason:
            message.status, message.incomplete_at = Message.Status.INCOMPLETE, now
            message.incomplete_details = {"reason": incomplete_reason}
        else:
            message.status, message.completed_at = Message.Status.COMPLETED, now
        step.status, step.completed_at = RunStep.Status.COMPLETED, now
        step.prompt_tokens, step.completion_tokens = prompt_tokens, completion_tokens
        if not store_finished(message, step, while_thread_in=POSTING_MODES if unless_taken_over else None):
            raise HumanTookOver()
        self.written.append(self.text)
        announced += [
            (f"thread.message.{message.status}", message_obj(message)),
            ("thread.run.step.completed", step_obj(step)),
        ]
        events.publish_many(self.thread_id, announced)
        events.clear_stream_snapshot(self.thread_id)
        self._reset()

    def abandon(self, reason: str) -> None:
        """Leave what was written as an incomplete message (a retry said something else, a takeover)."""
        if self.message is None:
            return
        self.finish(prompt_tokens=0, completion_tokens=0, incomplete_reason=reason)

    def _reset(self) -> None:
        self.message, self.step = None, None
        self.text, self._pending, self._sent_first = "", "", False
