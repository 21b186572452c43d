"""Executing a run: the state machine behind `runtime.tasks.execute_run`.

    claim → [resume persisted tool calls] → prompt → stream the model → text? finish
                                                                   → tool calls? persist the step,
                                                                     run server tools, loop; client
                                                                     tools → requires_action

Every model response with tool calls is stored as a run step *before* any tool runs; a run
executed again (a redelivered task after a crash) resumes from those rows instead of asking the
model again, so no tool call is made twice. Between chunks the worker checks whether the run was
cancelled or a person took the thread over. Every write goes through runtime.runs.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from common import logcontext
from common.errors import DomainError
from common.text import storable, unstorable
from runtime import events, hooks, metrics
from runtime.engine import compaction
from runtime.engine.citations import message_files_in
from runtime.engine.model import ModelCallFailed, ModelTurn, TextSink, call_model
from runtime.engine.prompt import PromptTooLarge, Turn, build_messages, history, tool_specs, tool_step_turn
from runtime.engine.tool_stream import ToolStream, step_delta
from runtime.engine.writer import POSTING_MODES, HumanTookOver, MessageWriter, assistant_may_post
from runtime.models import Message, Run, RunStep, ToolCall
from runtime.runs import tool_steps, transitions
from runtime.serializers import json_object, step_obj
from runtime.tools import registry
from runtime.tools.context import ToolContext
from runtime.tools.executor import checked_arguments, error_result, execute_server_calls

log = logging.getLogger(__name__)
S = Run.Status
STOP_CHECK_SECONDS = 0.5
WORKING = "Working on it…"  # a server tool's activity label when its own cannot be written
_CALL_ID_LENGTH = ToolCall._meta.get_field("call_id").max_length
_NAME_LENGTH = ToolCall._meta.get_field("name").max_length


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def execute_run(run_pk: int) -> None:
    """Execute one run to its next resting state. Harmless to call twice or concurrently."""
    worker = worker_name()
    run = transitions.claim_run(run_pk, worker=worker)
    if run is None:
        return
    with logcontext.bound(run_id=run.public_id, thread_id=run.thread.public_id):
        execution = None
        try:
            execution = RunExecution(run, worker)
            execution.execute()
        except (OperationalError, InterfaceError):
            # The database went away mid-run (a restart, a failover). Every step is stored before it
            # is acted on, so nothing is lost: the run stays in progress under this worker's lease,
            # and once the lease lapses the sweep hands it to a worker that resumes it. Failing it
            # here would tell the customer "something went wrong" for a blip.
            log.warning("run %s lost the database; it resumes after its lease", run.public_id, exc_info=True)
            return
        except Exception:
            log.exception("run %s crashed", run.public_id)
            execution = None  # what it saw is not how the run ended
            transitions.run_fail(
                run,
                code="server_error",
                message="Something went wrong on our side. Please try again, or ask for a person and someone "
                "from our team will help.",
            )
        rested = execution.rested if execution is not None else None
        if rested is None:  # it ended some other way than by this execution's own last transition
            rested = Run.objects.select_related("thread").get(pk=run.pk)
        metrics.RUNS.labels(rested.status).inc()
        metrics.RUN_SECONDS.observe((timezone.now() - rested.created_at).total_seconds())
        hooks.announce_rest(rested, execution.outcome() if execution is not None else None)


@dataclass
class Progress:
    """What one execution of a run keeps between its steps (and between a model call's chunks)."""

    # When the run and its thread were last checked for a cancel or a takeover (time.monotonic()),
    # and what the check found: "cancelled", "takeover" or None.
    last_stop_check: float = 0.0
    stop_reason: str | None = None
    # The last model call's tool step, run next; and that call's tokens (prompt, completion), stored
    # by the next lease renewal (one statement fewer between the model's calls and their results).
    pending_step: tuple[RunStep, list[ToolCall]] | None = None
    unsaved_usage: tuple[int, int] = (0, 0)
    # The thread's history as the last model call read it, kept up to date within this execution:
    # no message joins a thread while its run is active (customers and the API are refused; an
    # agent replies only after the takeover that cancels the run). None: read it again.
    turns: list[Turn] | None = None


class RunExecution:
    def __init__(self, run: Run, worker: str) -> None:
        self.run = run
        self.worker = worker
        self.thread = run.thread
        self.ctx = ToolContext(thread=self.thread, run=run)
        # The server tools named on the run, and the built-in tools its `tools` ask for (file_search).
        self.server_tools = registry.resolve([*run.server_tools, *registry.builtins_in(run.tools)], self.ctx)
        self.writer = MessageWriter(run, may_post=self._may_post)
        self.progress = Progress()
        # What this execution sees the run do, for run_rested's receivers (hooks.RunOutcome) when it
        # sees all of it, and the run as its completion left it (no need to read it again).
        self.sees_whole_run = not run.round_trips
        self.tool_call_failed = False
        self.rested: Run | None = None
        if run.round_trips:  # asked the model before: an earlier execution may have died mid-message
            transitions.close_unfinished(run)

    def outcome(self) -> hooks.RunOutcome | None:
        if not self.sees_whole_run:
            return None
        return hooks.RunOutcome(tool_call_failed=self.tool_call_failed, answers=tuple(self.writer.written))

    # --- the loop ----------------------------------------------------------------------------

    def execute(self) -> None:
        first = True  # the claim just loaded the run (with its thread) and granted the lease
        while True:
            if not (self._settle() if first else self._go_on()):
                return
            if first and self.run.round_trips:  # resumed: a stored tool step may still wait for its calls
                step = self.run.steps.filter(type=RunStep.Type.TOOL_CALLS, status=RunStep.Status.IN_PROGRESS).last()
                pending = (step, list(step.tool_calls.all())) if step is not None else None
                if pending is None and self._answer_was_written():
                    transitions.run_complete(self.run)
                    return
            else:  # this execution's own step, if its last model call asked for tools
                pending, self.progress.pending_step = self.progress.pending_step, None
            first = False
            if pending is not None:
                if not self._advance_tool_step(*pending):
                    return  # waiting for the caller's tool outputs
                continue
            if self.run.round_trips >= settings.RUN_MAX_ROUND_TRIPS:
                transitions.run_fail(
                    self.run,
                    code="server_error",
                    message="I couldn't finish this request in a reasonable number of steps. "
                    "Please rephrase it, or ask for a person.",
                )
                return
            if not self._model_step():
                return

    def _answer_was_written(self) -> bool:
        """Resumed after the answer was stored but before the run completed (its worker died in
        between): the run's last step is a completed message. Asking the model again would show
        the customer the same answer twice."""
        last = self.run.steps.order_by("created_at", "id").last()
        return (
            last is not None
            and last.type == RunStep.Type.MESSAGE_CREATION
            and last.status == RunStep.Status.COMPLETED
            and last.message is not None
            and last.message.status == Message.Status.COMPLETED
        )

    def _settle(self) -> bool:
        """True while the run (as loaded) is this worker's to go on with; otherwise settle it."""
        if self.run.status == S.CANCELLING:
            transitions.finish_cancelled(self.run)
            return False
        if self.run.status != S.IN_PROGRESS or self.run.claimed_by != self.worker:
            return False
        if self.run.expires_at and timezone.now() >= self.run.expires_at:
            transitions.expire_run(self.run)
            return False
        return True

    def _go_on(self) -> bool:
        """Between steps: one statement extends the lease while nothing changed (the usual case);
        otherwise the run is reloaded and whatever happened (a cancel, the expiry, a takeover) is
        settled."""
        usage, self.progress.unsaved_usage = self.progress.unsaved_usage, (0, 0)
        if transitions.renew_lease(self.run, worker=self.worker, thread_modes=POSTING_MODES, usage=usage):
            return True
        transitions.add_usage(self.run, usage)
        self.progress.turns = None
        self.run = transitions.load(self.run.pk)
        if not self._settle():
            return False
        if self.run.thread.mode not in POSTING_MODES:
            return self._stand_down()
        return transitions.renew_lease(self.run, worker=self.worker, thread_modes=POSTING_MODES)

    def _model_accepted(self) -> None:
        """The model has the request and is working on it: meanwhile, count the call and, in the
        same statement, check the run may go on, which the first text then relies on (`_may_post`)."""
        self._note_stop_signals(*transitions.count_round_trip(self.run))

    def _may_post(self) -> bool:
        """Whether a message may open: a stop check made within STOP_CHECK_SECONDS answers."""
        if time.monotonic() - self.progress.last_stop_check < STOP_CHECK_SECONDS:
            return self.progress.stop_reason is None
        return assistant_may_post(self.thread.pk)

    def _should_stop(self) -> bool:
        """Throttled check, between chunks, for a cancel request or a human taking over."""
        progress = self.progress
        if time.monotonic() - progress.last_stop_check < STOP_CHECK_SECONDS:
            return progress.stop_reason is not None
        return self._note_stop_signals(*transitions.stop_signals(self.run))

    def _note_stop_signals(self, status: str | None, mode: str | None) -> bool:
        """Keep what a stop check found (the run's status, its thread's mode; None if the thread is
        gone, which takes its runs with it): True if the run should stop."""
        progress = self.progress
        progress.last_stop_check = time.monotonic()
        if status == S.CANCELLING:
            progress.stop_reason = "cancelled"
        elif mode not in POSTING_MODES:
            progress.stop_reason = "takeover"
        return progress.stop_reason is not None

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
        run, progress = self.run, self.progress
        if run.thread.mode not in POSTING_MODES:  # as loaded; between steps renew_lease checks it
            return self._stand_down()
        prompt_left, completion_left = self._budgets()
        if prompt_left is not None and prompt_left <= 0:
            return self._end_incomplete("max_prompt_tokens")
        if completion_left is not None and completion_left <= 0:
            return self._end_incomplete("max_completion_tokens")
        turns = progress.turns if progress.turns is not None else history(run.thread)
        if compaction.compact_if_long(run, turns):
            turns = history(run.thread)
        progress.turns = turns
        tools = tool_specs(run, self.server_tools, self.ctx)
        try:
            messages = build_messages(run, turns, facts=hooks.facts_for(run, self.ctx), tools=tools, budget=prompt_left)
        except PromptTooLarge:
            return self._end_incomplete("max_prompt_tokens")
        request = {"model": run.model, "messages": messages}
        if tools:
            request["tools"] = tools
            request["tool_choice"] = self._tool_choice()
            request["parallel_tool_calls"] = run.parallel_tool_calls
        if run.temperature is not None:
            request["temperature"] = run.temperature
        if run.top_p is not None:
            request["top_p"] = run.top_p
        if completion_left is not None:
            request["max_completion_tokens"] = completion_left
        if isinstance(run.response_format, dict) and run.response_format.get("type") in ("json_object", "json_schema"):
            request["response_format"] = run.response_format
        stream = ToolStream(run, self.server_tools, before_open=self._end_text_message)
        sink = TextSink(
            write=self.writer.write, restart=lambda: self.writer.abandon("run_failed"), tool_progress=stream.progress
        )
        try:
            turn = call_model(request, sink, self._should_stop, opened=self._model_accepted)
        except HumanTookOver:
            stream.discard(RunStep.Status.CANCELLED)
            return self._stand_down()
        except ModelCallFailed as error:
            stream.discard(RunStep.Status.FAILED)
            self.writer.abandon("run_failed")
            transitions.run_fail(run, code=error.code, message=error.customer_message)
            return False
        if turn.stopped or not turn.tool_calls:  # a step the call opened will not be stored
            stream.discard(RunStep.Status.CANCELLED)
        run.prompt_tokens += turn.prompt_tokens
        run.completion_tokens += turn.completion_tokens
        # The call's tokens are stored with the run's next statement: the lease renewal before the
        # tools run (_go_on), or the transition that ends the run.
        usage = (turn.prompt_tokens, turn.completion_tokens)
        if turn.stopped:
            transitions.add_usage(run, usage)
            return self._stand_down()
        if turn.tool_calls:
            progress.unsaved_usage = usage
            self._end_text_message()
            progress.pending_step = self._persist_tool_step(turn, stream)
            return True
        if turn.finish_reason == "length":
            self.writer.finish(
                prompt_tokens=turn.prompt_tokens,
                completion_tokens=turn.completion_tokens,
                incomplete_reason="max_tokens",
            )
            if run.max_completion_tokens is not None:
                transitions.add_usage(run, usage)
                return self._end_incomplete("max_completion_tokens")
        else:
            try:
                self.writer.finish(
                    prompt_tokens=turn.prompt_tokens, completion_tokens=turn.completion_tokens, unless_taken_over=True
                )
            except HumanTookOver:
                transitions.add_usage(run, usage)
                return self._stand_down()
        self.rested = transitions.run_complete(run, usage)
        return False

    def _end_text_message(self) -> None:
        """Text before the tool calls: a message of its own, which the history must show."""
        if self.writer.started:
            self.writer.finish(prompt_tokens=0, completion_tokens=0)
            self.progress.turns = None

    def _tool_choice(self):
        """The run's tool_choice as Chat Completions takes it: a built-in tool's type
        ({"type": "code_interpreter"}) names its function when the run offers it, else "auto"."""
        choice = self.run.tool_choice
        if isinstance(choice, dict) and choice.get("type") not in (None, "function"):
            tool = self.server_tools.get(choice["type"])
            return {"type": "function", "function": {"name": tool.name}} if tool is not None else "auto"
        return choice

    def _stand_down(self) -> bool:
        """Stop without posting: the run was cancelled or a person took the thread over."""
        self.writer.abandon("run_cancelled")
        transitions.stand_down(self.run)
        return False

    def _end_incomplete(self, reason: str) -> bool:
        self.writer.abandon("max_tokens")
        transitions.run_incomplete(self.run, reason)
        return False

    # --- tool calls --------------------------------------------------------------------------

    def _persist_tool_step(self, turn: ModelTurn, stream: ToolStream) -> tuple[RunStep, list[ToolCall]]:
        """Store the model's tool calls before any of them runs (the resume point after a crash),
        as the step `stream` opened if it showed one of them as it was written."""
        client_names = {
            t["function"]["name"] for t in self.run.tools if isinstance(t, dict) and t.get("type") == "function"
        }
        calls = [
            storable_call(
                ToolCall(
                    index=i,
                    call_id=pending.id or stream.call_id(i),
                    name=pending.name,
                    arguments=pending.arguments,
                    # A declared client function is the caller's to answer; anything else runs here
                    # (an unknown name becomes an error result for the model).
                    side=ToolCall.Side.CLIENT if pending.name in client_names else ToolCall.Side.SERVER,
                )
            )
            for i, pending in enumerate(turn.tool_calls)
        ]
        step = tool_steps.store_tool_step(
            self.run,
            calls=calls,
            step=stream.step,
            prompt_tokens=turn.prompt_tokens,
            completion_tokens=turn.completion_tokens,
            model_attempts=turn.attempts,
            model_duration_ms=turn.duration_ms,
        )
        announce = stream.announce_rest(step, calls)
        announce += [self._activity(call, "started") for call in calls if call.side == ToolCall.Side.SERVER]
        events.publish_many(self.thread.public_id, announce)
        return step, calls

    def _activity(self, call: ToolCall, status: str) -> tuple[str, dict]:
        """What a server tool is doing, in words for the customer ("Looking up order A1001…")."""
        return (
            "conversation.activity",
            {
                "run_id": self.run.public_id,
                "call_id": call.call_id,
                "tool": call.name,
                "label": self._label(call),
                "status": status,
            },
        )

    def _label(self, call: ToolCall) -> str:
        """The tool's own words only for arguments its schema accepts: the label is written before
        the call runs, and a model's arguments may be anything ({"order_number": 5}); the call's
        error then goes back to the model as its result."""
        tool = self.server_tools.get(call.name)
        if tool is None:
            return WORKING
        try:
            arguments = checked_arguments(tool, self.ctx, call.arguments)
        except DomainError:
            return WORKING
        return tool.describe(arguments)

    def _advance_tool_step(self, step: RunStep, calls: list[ToolCall]) -> bool:
        """Run the step's pending server calls; True when the step is done and the run can go on."""
        step.run = self.run
        run_server_calls(calls, tools=self.server_tools, ctx=self.ctx)
        self.tool_call_failed |= any(call.status == ToolCall.Status.FAILED for call in calls)
        tid = self.thread.public_id
        finished = [
            self._activity(call, "failed" if call.error_code else "finished")
            for call in calls
            if call.side == ToolCall.Side.SERVER and call.finished_at
        ]
        finished += self._builtin_results(step, calls)
        waiting = [c for c in calls if c.side != ToolCall.Side.SERVER and c.status == ToolCall.Status.PENDING]
        if waiting:
            if finished:
                events.publish_many(tid, finished)
            # Client functions only: a call that needs a person's approval answered at once that it
            # waits (runtime.tools.approvals), so the run goes on and ends its turn.
            tool_steps.wait_for_action(self.run, waiting)
            return False
        tool_steps.complete_step(step)
        events.publish_many(tid, [*finished, ("thread.run.step.completed", step_obj(step, tool_calls=calls))])
        if self.progress.turns is not None:  # the history read for the last call, and now this step's results
            answered = tool_step_turn(step, calls)
            self.progress.turns = [*self.progress.turns, answered] if answered is not None else None
        return True

    def _builtin_results(self, step: RunStep, calls: list[ToolCall]) -> list[tuple[str, dict]]:
        """What the step's finished built-in calls add to its stream (code_interpreter's outputs),
        and the files they made, handed to the writer for the answer that follows."""
        announce = []
        for call in calls:
            tool = self.server_tools.get(call.name)
            if tool is None or not tool.builtin or call.side != ToolCall.Side.SERVER or call.output is None:
                continue
            self.writer.add_files(message_files_in(call.output))
            added = tool.result_delta(json_object(call.output)) if tool.result_delta else {}
            if added:
                delta = {"index": call.index, "type": call.name, call.name: added}
                announce.append(("thread.run.step.delta", step_delta(step, delta)))
        return announce


def storable_call(call: ToolCall) -> ToolCall:
    """The model's call as the database can hold it, whatever the model wrote: an id too long or
    unstorable is replaced by one of ours (store_tool_step), a name is cut to fit (no tool has it:
    the model hears so), and arguments holding a NUL or a lone surrogate are kept with U+FFFD in
    their place and the call answered at once with invalid_arguments (a client function too: the
    caller could not be handed them)."""
    if len(call.call_id) > _CALL_ID_LENGTH or unstorable(call.call_id):
        call.call_id = ""
    call.name = storable(call.name)[:_NAME_LENGTH]
    problem = unstorable(call.arguments)
    if problem:
        call.arguments = storable(call.arguments)
        call.output = json.dumps(error_result("invalid_arguments", problem))
        call.error_code = "invalid_arguments"
        call.status = ToolCall.Status.FAILED
        call.started_at = call.finished_at = timezone.now()
        call.duration_ms = 0
    return call


def run_server_calls(calls: list[ToolCall], *, tools: dict[str, registry.Tool], ctx: ToolContext) -> None:
    """Run a step's pending server calls (runtime.tools.executor) and store their outcomes."""
    ran, approvals = execute_server_calls(calls, tools=tools, ctx=ctx)
    if ran:
        tool_steps.store_outcomes(ran, approvals=approvals, thread=ctx.thread)
