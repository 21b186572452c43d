"""code_interpreter, the Assistants API's built-in Python tool, as a server tool of the runtime.

A run offers it when its tools list {"type": "code_interpreter"} and a sandbox can run on this host
(sandbox.sessions.availability: without bubblewrap it is never offered, and code never runs). Each
call runs the model's code in the thread's session (variables persist between calls, as in a
notebook), with the input files copied into /mnt/data under their names first: the run's
`tool_resources.code_interpreter.file_ids` (its assistant's), the thread's, and files attached to
the thread's messages with the code_interpreter tool, each the thread owner's. What the code
prints, its error, and the files it made (sandbox.outputs) go back to the model; a limit reached
(time, memory, disk) is an error the model reads, never the run's failure.

Run steps show the call as {"input": code, "outputs": [{"type": "logs"}, {"type": "image"}]}; the
runtime streams the code as the model writes it and the outputs once they come, and puts the
images in the answer that follows (`message_files`, runtime.engine.citations).
"""

from __future__ import annotations

from django.conf import settings

from knowledge.access import files_of
from knowledge.models import File
from runtime import hooks
from runtime.models import Message, Run, ToolCall
from runtime.tools import registry
from runtime.tools.context import ToolContext
from runtime.tools.registry import tool
from sandbox import sessions
from sandbox.exchange import COLLECT_SECONDS, START_SECONDS, STOP_GRACE_SECONDS
from sandbox.outputs import DATA, store_outputs

NAME = "code_interpreter"
MAX_CODE_CHARS = 100_000
MAX_INPUT_FILES = 20
FRESH_SESSION_NOTE = (
    "This code ran in a new session: the variables, imports and files of earlier executions in this "
    "conversation are gone (the input files were copied in again). Run again whatever they set up."
)
# The runtime's deadline for one call: the sandbox's own wall limit, and the time to start a
# session, copy the files in and read the results back (sandbox.sessions) on top of it.
CALL_TIMEOUT_SECONDS = settings.SANDBOX_WALL_SECONDS + START_SECONDS + STOP_GRACE_SECONDS + COLLECT_SECONDS


# --- Input files ------------------------------------------------------------------------------------


def input_file_ids(ctx: ToolContext) -> list[str]:
    """The ids of the run's and the thread's code_interpreter files, then those attached to the
    thread's messages with the tool, in that order, each once."""
    ids: list[str] = []
    for resources in (ctx.run.tool_resources if ctx.run else {}, ctx.thread.tool_resources):
        ids += ((resources or {}).get(NAME) or {}).get("file_ids") or []
    attached = Message.objects.filter(thread=ctx.thread).exclude(attachments=[]).order_by("created_at", "id")
    for attachments in attached.values_list("attachments", flat=True):
        ids += [
            attachment["file_id"]
            for attachment in attachments or []
            if isinstance(attachment, dict) and attaches_for_code(attachment)
        ]
    return list(dict.fromkeys(file_id for file_id in ids if isinstance(file_id, str)))


def attaches_for_code(attachment: dict) -> bool:
    return any(isinstance(t, dict) and t.get("type") == NAME for t in attachment.get("tools") or [])


def input_files(ctx: ToolContext) -> list[tuple[str, File]]:
    """The thread owner's input files, each with the name it has in /mnt/data: its filename, made
    unique ("sales.csv", "sales-2.csv") when two share one. Files deleted since are left out."""
    ids = input_file_ids(ctx)
    if not ids:
        return []
    found = {file.public_id: file for file in files_of(ctx.thread.owner).filter(public_id__in=ids)}
    named: list[tuple[str, File]] = []
    taken: set[str] = set()
    for file in [found[file_id] for file_id in ids if file_id in found][:MAX_INPUT_FILES]:
        name = sessions.safe_name(file.filename)
        stem, dot, extension = name.rpartition(".")
        if not dot or not stem:
            stem, dot, extension = name, "", ""
        number = 1
        while name in taken:
            number += 1
            name = f"{stem}-{number}{dot}{extension}"
        taken.add(name)
        named.append((name, file))
    return named


def read_content(file: File) -> bytes:
    with file.content.open("rb") as content:
        return content.read()


@hooks.prompt_facts
def files_at_mnt_data(run: Run, ctx: ToolContext) -> list[str]:
    """The model's list of the files it will find in /mnt/data, when the run offers the tool."""
    if NAME not in registry.builtins_in(run.tools) or not sessions.availability()[0]:
        return []
    names = [name for name, _ in input_files(ctx)]
    if not names:
        return []
    return [f"Files for {NAME}, in {DATA}: " + ", ".join(f"{DATA}/{name}" for name in names) + "."]


# --- How a call shows in run steps ----------------------------------------------------------------


def outputs_of(output: dict) -> list[dict]:
    """A call's outputs as run steps show them: its logs (the error's text after what it printed),
    then an image output for each image it made."""
    error = output.get("error")
    if isinstance(error, dict):  # the runtime's own error result (a timeout, invalid arguments)
        error = str(error.get("message") or error.get("code") or "")
    logs = "\n".join(part for part in (str(output.get("logs") or "").rstrip("\n"), error or "") if part)
    shown = [{"type": "logs", "logs": logs}] if logs else []
    for made in output.get("message_files") or []:
        if isinstance(made, dict) and made.get("image") and isinstance(made.get("file_id"), str):
            shown.append({"type": "image", "image": {"file_id": made["file_id"]}})
    return shown


def step_view(output: dict, include_content: bool, arguments: dict) -> dict:
    code = arguments.get("code")
    return {"input": code if isinstance(code, str) else "", "outputs": outputs_of(output)}


def result_delta(output: dict) -> dict:
    """The outputs, each with its index, as the step's stream adds them once the code ran."""
    outputs = outputs_of(output)
    return {"outputs": [{"index": i, **shown} for i, shown in enumerate(outputs)]} if outputs else {}


# --- The tool ---------------------------------------------------------------------------------------


@tool(
    NAME,
    "Run Python code in this conversation's sandboxed session, like a notebook cell: variables and "
    "imports persist between calls while the session lives. pandas, numpy, matplotlib and scipy are "
    f"installed; there is no internet. Input files are in {DATA}. Print what you need to see; the "
    "value of a last bare expression is shown too. Figures shown with plt.show() are given to the user "
    f"as images. Files you write under {DATA} come back to the user: link each one in the answer "
    f"as sandbox:{DATA}/<name>.",
    {
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "The Python code to run.", "maxLength": MAX_CODE_CHARS}
        },
        "required": ["code"],
        "additionalProperties": False,
    },
    timeout=CALL_TIMEOUT_SECONDS,
    available=lambda ctx: sessions.availability()[0],
    activity=lambda args: "Running the analysis…",
    builtin=True,
    step_view=step_view,
    streamed_input="code",
    result_delta=result_delta,
)
def code_interpreter(ctx: ToolContext, args: dict) -> dict:
    inputs = [(name, read_content(file)) for name, file in input_files(ctx)]
    try:
        execution = sessions.execute(ctx.thread.public_id, args["code"], files=inputs)
    except sessions.SandboxUnavailable as error:
        return {"error": {"code": "sandbox_unavailable", "message": f"The code could not be run: {error}"}}
    made = store_outputs(ctx.thread, execution)
    result: dict = {
        "logs": execution.logs,
        "error": execution.error,
        "message_files": [output.for_model() for output in made],
    }
    if execution.fresh_session and ran_before(ctx):
        result["note"] = FRESH_SESSION_NOTE
    return result


def ran_before(ctx: ToolContext) -> bool:
    """Whether code ran in this thread before this call (then a fresh session lost its state)."""
    earlier = ToolCall.objects.filter(step__run__thread=ctx.thread, name=NAME, status=ToolCall.Status.COMPLETED)
    return earlier.exclude(call_id=ctx.call_id).exists()
