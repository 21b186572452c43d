"""Data questions, when a tool that runs Python is offered (the Assistants API's code_interpreter).

- A fenced ```python block in the user's message is run as it is.
- A plain question about a data file the system prompt lists in /mnt/data ("total revenue by
  region", "plot sales per month", "describe this file") becomes pandas code from a template
  (offline_model.analysis_code), which finds the columns itself when it runs.
- Once the code ran, the answer gives the figures it printed (or its error), and links each file it
  wrote as sandbox:/mnt/data/<name>; the charts it showed come with the answer as images.
- A data question it cannot turn into code, or one with no file to work on, it says so plainly.

Anything else is not a data question: the dialogue goes on as without the tool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from offline_model.analysis_code import DATA, DataRequest, code_for
from offline_model.conversation import Conversation, ToolExchange
from offline_model.intents import QUESTION_RE, Intent, detect, task_of
from offline_model.toolbox import OfferedTool, Toolbox, name_words
from offline_model.turn import Call, Reply

CODE_WORDS = frozenset({"python", "code", "interpreter", "jupyter", "notebook"})
CODE_PROPERTIES = ("code", "source", "script", "python")
# Files a template reads, by extension: tables first, then text that may hold one.
TABLE_EXTENSIONS = ("csv", "tsv", "xlsx", "xlsm", "json")
TEXT_EXTENSIONS = ("txt",)
FENCED_RE = re.compile(r"```[ \t]*(?:python3?|py)[ \t]*\r?\n(?P<code>.*?)```", re.IGNORECASE | re.DOTALL)
# The system prompt's list of files: "Files for …, in /mnt/data: /mnt/data/a.csv, /mnt/data/b.csv."
FILES_LINE_RE = re.compile(r"in /mnt/data:\s*(?P<files>/mnt/data/.+?)\.?\s*$", re.MULTILINE)
FILE_SPLIT_RE = re.compile(r",\s*(?=/mnt/data/)")

DESCRIBE_RE = re.compile(
    r"\b(describe|summari[sz]e|overview|what'?s in|what is in|tell me about|explore|look at)\b", re.IGNORECASE
)
THIS_FILE_RE = re.compile(r"\b(in|from|of|for) (this|that|the|my|our) (file|data|csv|dataset|spreadsheet|table)\b")
PLOT_RE = re.compile(r"\b(plot|chart|graph|visuali[sz]e|draw|histogram)\b", re.IGNORECASE)
HOW_RE = [
    ("mean", re.compile(r"\b(average|mean|avg)\b", re.IGNORECASE)),
    ("count", re.compile(r"\b(number of|count of|count|how many)\b", re.IGNORECASE)),
    ("max", re.compile(r"\b(maximum|max|highest|largest|biggest)\b", re.IGNORECASE)),
    ("min", re.compile(r"\b(minimum|min|lowest|smallest)\b", re.IGNORECASE)),
    ("sum", re.compile(r"\b(total|sum of|sum|overall)\b", re.IGNORECASE)),
]
GROUP_RE = re.compile(
    r"\b(?:by|per|for each|for every|across|in each)\s+(?:the\s+|each\s+|every\s+)?"
    r"(?P<group>[a-z][\w -]{0,40}?)\s*(?=$|[?.!,;:]|\b(?:in|from|of|for|and|with|using|as|please)\b)",
    re.IGNORECASE,
)
PERIOD_ADJECTIVES = {"daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter", "yearly": "year"}
PERIOD_ADJECTIVE_RE = re.compile(r"\b(daily|weekly|monthly|quarterly|yearly|annual)\b", re.IGNORECASE)
_FILLER_WORDS = (
    "a an the of all my our me please show what whats what's is are was were give calculate compute get find "
    "tell i want would like to see can could you us it its this that these those and in on column figure figures "
    "let work out do make"
)
FILLER = frozenset(_FILLER_WORDS.split())
# Words of a data question, for saying plainly that it could not be turned into code.
DATA_QUESTION_RE = re.compile(
    r"\b(csv|spreadsheet|dataset|data|file|column|columns|rows|table|chart|plot|graph|analy[sz]e|analysis|"
    r"statistics|stats|average|mean|median|total|sum|calculate|compute|python|pandas)\b",
    re.IGNORECASE,
)


def code_tool(toolbox: Toolbox) -> tuple[OfferedTool, str] | None:
    """The offered tool that runs Python, and the name of its code argument."""
    for tool in toolbox.tools:
        words = set(name_words(tool.name)) | set(name_words(tool.description))
        prop = next(
            (p for p in CODE_PROPERTIES if p in tool.properties and tool.properties[p].get("type") == "string"), None
        )
        if prop and words & CODE_WORDS:
            return tool, prop
    return None


def data_files(system: str) -> list[str]:
    """The names of the files the system prompt says are in /mnt/data, in its order."""
    names: list[str] = []
    for line in FILES_LINE_RE.finditer(system):
        for path in FILE_SPLIT_RE.split(line.group("files")):
            name = path.strip().removeprefix(f"{DATA}/")
            if name and name not in names:
                names.append(name)
    return names


def fenced_code(text: str) -> str | None:
    found = FENCED_RE.search(text)
    return found.group("code") if found and found.group("code").strip() else None


def analyse(conversation: Conversation, toolbox: Toolbox) -> Reply | None:
    """The reply to a data question when a tool runs Python: run code, or answer from its result.
    None when the latest message is no data question (or no such tool is offered)."""
    found = code_tool(toolbox)
    if found is None:
        return None
    tool, prop = found
    last = conversation.last_user_text
    files = data_files(conversation.system)
    ran = [e for e in conversation.since_last_user if e.name == tool.name and e.answered]
    if ran:
        return Reply(text=answer(ran[-1], read_request(last, files)))
    code = fenced_code(last)
    if code is None:
        request = read_request(last, files)
        if request is None:
            return Reply(text=cannot(files)) if is_data_question(last, files) else None
        code = code_for(request)
    return Reply(calls=(Call(tool.name, {prop: code}),))


# --- Reading the question -----------------------------------------------------------------------------


def is_data_question(text: str, files: list[str]) -> bool:
    """Whether a message is for the code: it speaks of data, or, with data files at hand, it is a
    question that is neither small talk nor about the customer's orders or a person."""
    if DATA_QUESTION_RE.search(text):
        return True
    intents = detect(text)
    if not files or task_of(intents) or intents & {Intent.HUMAN, Intent.GREETING, Intent.THANKS, Intent.GOODBYE}:
        return False
    return bool(QUESTION_RE.search(text))


def chosen_file(text: str, files: list[str]) -> str | None:
    """The file the question names (by its name, or by its stem in words: "tool calls" for
    tool_calls.csv, "escalation" for escalations.csv), else the last table listed (the latest
    attached)."""
    lowered = text.lower()
    named = [name for name in files if name.lower() in lowered]
    if named:
        return max(named, key=len)
    words = " ".join(re.findall(r"[a-z0-9]+", lowered))
    by_stem = [name for name in files if _stem_named(name, words)]
    if by_stem:
        return max(by_stem, key=len)
    for extensions in (TABLE_EXTENSIONS, TEXT_EXTENSIONS):
        readable = [name for name in files if name.rpartition(".")[2].lower() in extensions]
        if readable:
            return readable[-1]
    return None


def _stem_named(name: str, words: str) -> bool:
    stem = " ".join(re.findall(r"[a-z0-9]+", name.rpartition(".")[0].lower() or name.lower()))
    if len(stem) < 3:
        return False
    singular = stem[:-1] if stem.endswith("s") else stem
    return re.search(rf"\b{re.escape(singular)}s?\b", words) is not None


def read_request(text: str, files: list[str]) -> DataRequest | None:
    """What a plain question asks of a file, or None if it is not one a template answers."""
    if fenced_code(text) is not None:
        return None
    file = chosen_file(text, files)
    if file is None:
        return None
    question = " ".join(text.lower().replace(file.lower(), " ").split())
    question = THIS_FILE_RE.sub("", question)
    plot = bool(PLOT_RE.search(question))
    how, how_start, how_end = None, len(question), 0
    for name, pattern in HOW_RE:  # the first computation the question names
        match = pattern.search(question)
        if match and match.start() < how_start:
            how, how_start, how_end = name, match.start(), match.end()
    group_match = GROUP_RE.search(question)
    group = _words(group_match.group("group")) if group_match else None
    adjective = PERIOD_ADJECTIVE_RE.search(question)
    if group is None and adjective:
        group = PERIOD_ADJECTIVES.get(adjective.group(1).lower(), "year")
    if how is None and not plot and group is None:
        return DataRequest("describe", file) if DESCRIBE_RE.search(question) else None
    start = how_end or (PLOT_RE.search(question).end() if plot else 0)
    end = group_match.start() if group_match and group_match.start() >= start else len(question)
    measure_text = PERIOD_ADJECTIVE_RE.sub(" ", question[start:end])
    measure = _words(measure_text)
    if how == "count" or (how is None and measure is None):
        return DataRequest("aggregate", file, "count", None, group, plot)
    if measure is None or (group is None and how is None):
        return None
    return DataRequest("aggregate", file, how or "sum", measure, group, plot, count_if_missing=how is None)


def _words(text: str) -> str | None:
    words = [w for w in re.findall(r"[a-z0-9_]+(?:-[a-z0-9_]+)*", text.lower()) if w not in FILLER]
    return " ".join(words[:4]) or None


# --- Answering from what the code printed -----------------------------------------------------------------


@dataclass(frozen=True)
class Printed:
    """What a template's code printed: a title, `label: value` figures, the total, other lines."""

    title: str
    figures: list[tuple[str, str]]
    total: str | None
    other: list[str]


FIGURE_RE = re.compile(r"^(?P<label>[^:\n]{1,200}):\s+(?P<value>.+)$")
COULD_NOT = "Could not "  # what a template prints when the file has no column for the question
SAVED_RE = re.compile(r"^The figures are also in /mnt/data/\S+\.$")


def read_printed(logs: str) -> Printed:
    lines = [line for line in logs.splitlines() if line.strip()]
    title = lines[0].removesuffix(":") if lines and lines[0].endswith(":") else ""
    figures, total, other = [], None, []
    for line in lines[1:] if title else lines:
        match = None if line.startswith(COULD_NOT) else FIGURE_RE.match(line)
        if SAVED_RE.match(line):
            continue
        if match and match.group("label") == "All":
            total = match.group("value")
        elif match:
            figures.append((match.group("label"), match.group("value")))
        else:
            other.append(line)
    return Printed(title, figures, total, other)


def answer(exchange: ToolExchange, request: DataRequest | None) -> str:
    """The answer from the code's result: its figures (a template's) or its output (the user's code),
    its error, the charts that come with it and the files it wrote."""
    output = exchange.output if isinstance(exchange.output, dict) else {}
    failure = output.get("error")
    if isinstance(failure, dict):  # the tool itself could not run the code
        why = str(failure.get("message") or failure.get("code") or "the tool failed").rstrip(".")
        return f"I couldn't run the code: {why}."
    logs = str(output.get("logs") or "").strip("\n")
    parts = []
    if request is not None and not failure:
        parts.append(figures_answer(read_printed(logs), request))
    elif logs:
        parts.append(f"I ran the code. It printed:\n\n```\n{logs}\n```")
    else:
        parts.append("I ran the code." + ("" if failure else " It printed nothing."))
    if failure:
        lead = "It stopped with an error" if parts[0].startswith("I ran") else "The code stopped with an error"
        parts.append(f"{lead}:\n\n```\n{last_lines(str(failure), 12)}\n```")
    made = [entry for entry in output.get("message_files") or () if isinstance(entry, dict)]
    images = [entry for entry in made if entry.get("image")]
    links = [entry for entry in made if isinstance(entry.get("link"), str) and entry["link"]]
    if images:
        parts.append("Here's the chart." if len(images) == 1 else f"Here are the {len(images)} charts.")
    if links:
        listed = ", ".join(f"[{link_name(entry)}]({entry['link']})" for entry in links)
        parts.append(f"{'The figures are' if request is not None else 'The code wrote'} also in {listed}.")
    if output.get("note"):
        parts.append(str(output["note"]))
    return "\n\n".join(parts)


def figures_answer(printed: Printed, request: DataRequest) -> str:
    if not printed.title and printed.other:  # "Could not find a column for …"
        return " ".join(printed.other) + " " + ASK_AGAIN
    if request.kind == "describe":
        name, _, size = printed.title.partition(": ")
        lines = "\n".join(f"- **{label}**: {value}" for label, value in printed.figures)
        return f"**{name}** has {size}:\n\n{lines}"
    lead = f"Here's the {request.title}" if not printed.title else f"{printed.title}"
    if len(printed.figures) == 0 and printed.total is not None:
        return f"{lead}: **{printed.total}**."
    lines = "\n".join(f"- {label}: **{value}**" for label, value in printed.figures)
    total = f"\n\nAll together: **{printed.total}**." if printed.total is not None else ""
    return f"{lead}:\n\n{lines}{total}"


def link_name(entry: dict) -> str:
    return str(entry.get("name") or entry["link"].rsplit("/", 1)[-1])


def last_lines(text: str, count: int) -> str:
    return "\n".join(text.strip("\n").splitlines()[-count:])


ASK_AGAIN = "Ask again with the column's name as the file has it."
EXAMPLES = (
    'I can total, average or count a column by another one ("total revenue by region"), plot one per month or '
    'by a column ("plot sales per month"), or describe a file ("describe this file"). You can also send Python in '
    "a ```python block and I'll run it as it is."
)


def cannot(files: list[str]) -> str:
    """What the model says to a data question it cannot turn into code."""
    if not files:
        return (
            "I don't have a data file to work on. Attach a CSV file for the code interpreter and ask again. " + EXAMPLES
        )
    return f"I can't turn that into code on my own. {EXAMPLES}"
