"""Executing a run: the state machine behind `support.tasks.execute_run`.

    claim → [resume persisted tool calls] → prompt → stream the model → text? finish
                                                                   → tool calls? persist the step,
                                                                     run server tools, loop; client
                                                                     tools → requires_action

Every model response with tool calls is stored as a run step *before* any tool runs; a run
executed again (a redelivered task after a crash) resumes from those rows instead of asking the
model again, so no tool call is made twice. Between chunks the worker checks whether the run was
cancelled or a person took the thread over.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from runtime import events, lifecycle
from runtime.engine import compaction
from runtime.engine.model import ModelCallFailed, ModelTurn, TextSink, call_model
from runtime.engine.prompt import PromptTooLarge, Turn, build_messages, history, tool_specs, tool_step_turn
from runtime.engine.writer import POSTING_MODES, HumanTookOver, MessageWriter, assistant_may_post
from runtime.models import Message, Run, RunStep, ToolCall
from runtime.shapes import step_obj
from runtime.signals import run_rested
from runtime.tools import registry
from runtime.tools.context import ToolContext
from runtime.tools.executor import execute_server_calls

log = logging.getLogger(__name__)
S = Run.Status
STOP_CHECK_SECONDS = 0.5


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def execute_run(run_pk: int) -> None:
    """Execute one run to its next resting state. Harmless to call twice or concurrently."""
    worker = worker_name()
    run = lifecycle.claim_run(run_pk, worker=worker)
    if run is None:
        return
    try:
        RunExecution(run, worker).execute()
    except Exception:
        log.exception("run %s crashed", run.public_id)
        lifecycle.run_fail(run, code="server_error", message="Something went wrong on our side. Please try again.")
    rested = Run.objects.select_related("thread").get(pk=run.pk)
    for receiver, error in run_rested.send_robust(sender=Run, run=rested):
        if isinstance(error, Exception):
            log.error("run_rested receiver %r failed: %r", receiver, error)


class RunExecution:
    def __init__(self, run: Run, worker: str) -> None:
        self.run = run
        self.worker = worker
        self.thread = run.thread
        self.ctx = ToolContext(thread=self.thread, run=run)
        self.server_tools = registry.resolve(run.server_tools, self.ctx)
        self.writer = MessageWriter(run, may_post=self._may_post)
        self._last_stop_check = 0.0
        self._stop_reason: str | None = None
        self._stored: tuple[RunStep, list[ToolCall]] | None = None  # the last model call's tool step
        self._unsaved_usage = (0, 0)  # its tokens (prompt, completion), stored by the next renewal
        # The thread's history as the last model call read it, kept up to date within this
        # execution: no message joins a thread while its run is active (customers and the API are
        # refused; an agent replies only after the takeover that cancels the run). None: read it.
        self._turns: list[Turn] | None = None
        if run.round_trips:  # asked the model before: an earlier execution may have died mid-message
            self._close_unfinished_messages()

    def _close_unfinished_messages(self) -> None:
        """A message left half-written by a worker that died is ended; the model is asked again."""
        now = timezone.now()
        for step in self.run.steps.filter(type=RunStep.Type.MESSAGE_CREATION, status=RunStep.Status.IN_PROGRESS):
            step.status, step.failed_at = RunStep.Status.FAILED, now
            step.save(update_fields=["status", "failed_at"])
        self.run.messages.filter(status=Message.Status.IN_PROGRESS).update(
            status=Message.Status.INCOMPLETE, incomplete_at=now, incomplete_details={"reason": "run_failed"}
        )

    # --- the loop ----------------------------------------------------------------------------

    def execute(self) -> None:
        first = True  # the claim just loaded the run (with its thread) and granted the lease
        while True:
            if not (self._settle() if first else self._go_on()):
                return
            if first and self.run.round_trips:  # resumed: a stored tool step may still wait for its calls
                step = self.run.steps.filter(type=RunStep.Type.TOOL_CALLS, status=RunStep.Status.IN_PROGRESS).last()
                pending = (step, list(step.tool_calls.all())) if step is not None else None
            else:  # this execution's own step, if its last model call asked for tools
                pending, self._stored = self._stored, None
            first = False
            if pending is not None:
                if not self._advance_tool_step(*pending):
                    return  # waiting for the caller's tool outputs
                continue
            if self.run.round_trips >= settings.RUN_MAX_ROUND_TRIPS:
                lifecycle.run_fail(
                    self.run,
                    code="server_error",
                    message="I couldn't finish this request in a reasonable number of steps. "
                    "Please rephrase it, or ask for a person.",
                )
                return
            if not self._model_step():
                return

    def _settle(self) -> bool:
        """True while the run (as loaded) is this worker's to go on with; otherwise settle it."""
        if self.run.status == S.CANCELLING:
            lifecycle.finish_cancelled(self.run)
            return False
        if self.run.status != S.IN_PROGRESS or self.run.claimed_by != self.worker:
            return False
        if self.run.expires_at and timezone.now() >= self.run.expires_at:
            lifecycle.expire_run(self.run)
            return False
        return True

    def _go_on(self) -> bool:
        """Between steps: one statement extends the lease while nothing changed (the usual case);
        otherwise the run is reloaded and whatever happened (a cancel, the expiry, a takeover) is
        settled."""
        usage, self._unsaved_usage = self._unsaved_usage, (0, 0)
        if lifecycle.renew_lease(self.run, worker=self.worker, thread_modes=POSTING_MODES, usage=usage):
            return True
        self._save_usage(usage)
        self._turns = None
        self.run = self._reload()
        if not self._settle():
            return False
        if self.run.thread.mode not in POSTING_MODES:
            return self._stand_down()
        return lifecycle.renew_lease(self.run, worker=self.worker, thread_modes=POSTING_MODES)

    def _save_usage(self, usage: tuple[int, int]) -> None:
        prompt, completion = usage
        if prompt or completion:
            Run.objects.filter(pk=self.run.pk).update(
                prompt_tokens=F("prompt_tokens") + prompt, completion_tokens=F("completion_tokens") + completion
            )

    def _reload(self) -> Run:
        return Run.objects.select_related("thread__customer", "assistant").get(pk=self.run.pk)

    def _model_accepted(self) -> None:
        """The model has the request and is working on it: meanwhile, count the call (before any of
        its text is stored, so an execution after a crash knows to look for a half-written message)
        and check the run may go on, which the first text then relies on (`_may_post`)."""
        Run.objects.filter(pk=self.run.pk).update(round_trips=F("round_trips") + 1)
        self.run.round_trips += 1
        self._should_stop()

    def _may_post(self) -> bool:
        """Whether a message may open: a stop check made within STOP_CHECK_SECONDS answers."""
        if time.monotonic() - self._last_stop_check < STOP_CHECK_SECONDS:
            return self._stop_reason is None
        return assistant_may_post(self.thread.pk)

    def _should_stop(self) -> bool:
        """Throttled check, between chunks, for a cancel request or a human taking over."""
        now = time.monotonic()
        if now - self._last_stop_check < STOP_CHECK_SECONDS:
            return self._stop_reason is not None
        self._last_stop_check = now
        row = Run.objects.filter(pk=self.run.pk).values_list("status", "thread__mode").first()
        status, mode = row or (None, None)  # a deleted thread takes its runs with it
        if status == S.CANCELLING:
            self._stop_reason = "cancelled"
        elif mode not in POSTING_MODES:
            self._stop_reason = "takeover"
        return self._stop_reason is not None

    # --- one model call ----------------------------------------------------------------------

    def _budgets(self) -> tuple[int | None, int | None]:
        run = self.run
        prompt_left = None if run.max_prompt_tokens is None else run.max_prompt_tokens - run.prompt_tokens
        completion_left = (
            None if run.max_completion_tokens is None else run.max_completion_tokens - run.completion_tokens
        )
        return prompt_left, completion_left

    def _model_step(self) -> bool:
        """Ask the model once. Returns True to loop again (tools ran), False when the run rests."""
        run = self.run
        if run.thread.mode not in POSTING_MODES:  # as loaded; between steps renew_lease checks it
            return self._stand_down()
        prompt_left, completion_left = self._budgets()
        if prompt_left is not None and prompt_left <= 0:
            return self._end_incomplete("max_prompt_tokens")
        if completion_left is not None and completion_left <= 0:
            return self._end_incomplete("max_completion_tokens")
        turns = self._turns if self._turns is not None else history(run.thread)
        if compaction.compact_if_long(run, turns):
            turns = history(run.thread)
        self._turns = turns
        tools = tool_specs(run, self.server_tools, self.ctx)
        try:
            messages = build_messages(
                run, turns, verified_orders=self.ctx.verified_order_numbers(), tools=tools, budget=prompt_left
            )
        except PromptTooLarge:
            return self._end_incomplete("max_prompt_tokens")
        request = {"model": run.model, "messages": messages}
        if tools:
            request["tools"] = tools
            request["tool_choice"] = run.tool_choice
            request["parallel_tool_calls"] = run.parallel_tool_calls
        if run.temperature is not None:
            request["temperature"] = run.temperature
        if run.top_p is not None:
            request["top_p"] = run.top_p
        if completion_left is not None:
            request["max_completion_tokens"] = completion_left
        if isinstance(run.response_format, dict) and run.response_format.get("type") in ("json_object", "json_schema"):
            request["response_format"] = run.response_format
        sink = TextSink(write=self.writer.write, restart=lambda: self.writer.abandon("run_failed"))
        try:
            turn = call_model(request, sink, self._should_stop, opened=self._model_accepted)
        except HumanTookOver:
            return self._stand_down()
        except ModelCallFailed as error:
            self.writer.abandon("run_failed")
            lifecycle.run_fail(run, code=error.code, message=error.customer_message)
            return False
        run.prompt_tokens += turn.prompt_tokens
        run.completion_tokens += turn.completion_tokens
        if turn.tool_calls and not turn.stopped:
            # The usage is stored with the lease renewal before the tools run (_go_on): one
            # statement fewer between the model's tool calls and their results.
            self._unsaved_usage = (turn.prompt_tokens, turn.completion_tokens)
        else:
            self._save_usage((turn.prompt_tokens, turn.completion_tokens))
        if turn.stopped:
            return self._stand_down()
        if turn.tool_calls:
            if self.writer.started:  # text before the tool calls: a message the history must show
                self.writer.finish(prompt_tokens=0, completion_tokens=0)
                self._turns = None
            self._stored = self._persist_tool_step(turn)
            return True
        if turn.finish_reason == "length":
            self.writer.finish(
                prompt_tokens=turn.prompt_tokens,
                completion_tokens=turn.completion_tokens,
                incomplete_reason="max_tokens",
            )
            if run.max_completion_tokens is not None:
                return self._end_incomplete("max_completion_tokens")
        else:
            if not assistant_may_post(self.thread.pk):
                return self._stand_down()
            self.writer.finish(prompt_tokens=turn.prompt_tokens, completion_tokens=turn.completion_tokens)
        lifecycle.move_run(run, S.COMPLETED, allowed_from=[S.IN_PROGRESS], completed_at=timezone.now())
        return False

    def _stand_down(self) -> bool:
        """Stop without posting: the run was cancelled or a person took the thread over."""
        self.writer.abandon("run_cancelled")
        run = self._reload()
        if run.status == S.IN_PROGRESS:
            run = lifecycle.move_run(run, S.CANCELLING, allowed_from=[S.IN_PROGRESS]) or run
        if run.status == S.CANCELLING:
            lifecycle.finish_cancelled(run)
        return False

    def _end_incomplete(self, reason: str) -> bool:
        self.writer.abandon("max_tokens")
        lifecycle.move_run(self.run, S.INCOMPLETE, allowed_from=[S.IN_PROGRESS], incomplete_details={"reason": reason})
        return False

    # --- tool calls --------------------------------------------------------------------------

    def _persist_tool_step(self, turn: ModelTurn) -> tuple[RunStep, list[ToolCall]]:
        """Store the model's tool calls before any of them runs (the resume point after a crash)."""
        client_names = {
            t["function"]["name"] for t in self.run.tools if isinstance(t, dict) and t.get("type") == "function"
        }
        with transaction.atomic():
            step = RunStep.objects.create(
                run=self.run,
                type=RunStep.Type.TOOL_CALLS,
                prompt_tokens=turn.prompt_tokens,
                completion_tokens=turn.completion_tokens,
                model_attempts=turn.attempts,
                model_duration_ms=turn.duration_ms,
            )
            calls = [
                ToolCall(
                    step=step,
                    index=i,
                    call_id=pending.id or f"call_{step.public_id[5:]}{i}",
                    name=pending.name,
                    arguments=pending.arguments,
                    # A declared client function is the caller's to answer; anything else runs here
                    # (an unknown name becomes an error result for the model).
                    side=ToolCall.Side.CLIENT if pending.name in client_names else ToolCall.Side.SERVER,
                )
                for i, pending in enumerate(turn.tool_calls)
            ]
            ToolCall.objects.bulk_create(calls)
        step.run = self.run
        announce = [
            ("thread.run.step.created", step_obj(step, tool_calls=[])),
            ("thread.run.step.in_progress", step_obj(step, tool_calls=[])),
        ]
        for call in calls:
            first = {"index": call.index, "id": call.call_id, "type": "function"}
            first["function"] = {"name": call.name, "arguments": "", "output": None}
            announce.append(("thread.run.step.delta", _step_delta(step, first)))
            more = {"index": call.index, "type": "function", "function": {"arguments": call.arguments}}
            announce.append(("thread.run.step.delta", _step_delta(step, more)))
            if call.side == ToolCall.Side.SERVER:
                announce.append(self._activity(call, "started"))
        events.publish_many(self.thread.public_id, announce)
        return step, calls

    def _activity(self, call: ToolCall, status: str) -> tuple[str, dict]:
        """What a server tool is doing, in words for the customer ("Looking up order A1001…")."""
        tool = self.server_tools.get(call.name)
        return (
            "conversation.activity",
            {
                "run_id": self.run.public_id,
                "call_id": call.call_id,
                "tool": call.name,
                "label": tool.describe(_safe_args(call.arguments)) if tool else "Working on it…",
                "status": status,
            },
        )

    def _advance_tool_step(self, step: RunStep, calls: list[ToolCall]) -> bool:
        """Run the step's pending server calls; True when the step is done and the run can go on."""
        step.run = self.run
        execute_server_calls(calls, tools=self.server_tools, ctx=self.ctx)
        tid = self.thread.public_id
        finished = [
            self._activity(call, "failed" if call.error_code else "finished")
            for call in calls
            if call.side == ToolCall.Side.SERVER and call.finished_at
        ]
        waiting = [c for c in calls if c.side != ToolCall.Side.SERVER and c.status == ToolCall.Status.PENDING]
        if waiting:
            if finished:
                events.publish_many(tid, finished)
            now = timezone.now()
            ToolCall.objects.filter(pk__in=[c.pk for c in waiting], started_at__isnull=True).update(started_at=now)
            fields = {"required_action": lifecycle.required_action(waiting)}
            if any(c.side == ToolCall.Side.APPROVAL for c in waiting):
                # A person decides; that may take longer than a caller's tool outputs.
                fields["expires_at"] = now + timedelta(seconds=settings.APPROVAL_WAIT_SECONDS)
                events.publish(
                    tid,
                    "conversation.activity",
                    {
                        "run_id": self.run.public_id,
                        "tool": "approval",
                        "label": "A colleague is checking this request. I'll continue as soon as it's approved.",
                        "status": "waiting",
                    },
                )
                events.notify_staff("approval.requested", {"thread_id": tid})
            lifecycle.move_run(self.run, S.REQUIRES_ACTION, allowed_from=[S.IN_PROGRESS], **fields)
            return False
        step.status, step.completed_at = RunStep.Status.COMPLETED, timezone.now()
        step.save(update_fields=["status", "completed_at"])
        events.publish_many(tid, [*finished, ("thread.run.step.completed", step_obj(step, tool_calls=calls))])
        if self._turns is not None:  # the history read for the last call, and now this step's results
            answered = tool_step_turn(step, calls)
            self._turns = [*self._turns, answered] if answered is not None else None
        return True


def _step_delta(step: RunStep, call_delta: dict) -> dict:
    return {
        "id": step.public_id,
        "object": "thread.run.step.delta",
        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call_delta]}},
    }


def _safe_args(text: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
