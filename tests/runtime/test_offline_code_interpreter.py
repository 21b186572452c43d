"""The offline model with a tool that runs Python (code_interpreter's spec, as the runtime offers it):
what it runs for a question, and how it answers from the result. No code runs here: the results are
written as the tool gives them (tests/sandbox runs the same code in the sandbox).
"""

from __future__ import annotations

import json

import pytest

import offline_model as offline
from offline_model.analysis import code_tool, data_files, read_request
from offline_model.analysis_code import DataRequest
from offline_model.toolbox import OfferedTool, Toolbox
from runtime.tools import registry
from tests.runtime.test_offline_model import CONCIERGE_TOOLS

CODE_INTERPRETER = registry.get("code_interpreter").spec(None)
FILES = "Files for code_interpreter, in /mnt/data: /mnt/data/notes.txt, /mnt/data/sales.csv."
SYSTEM = f"You analyse the shop's data.\n\n{FILES}"


def ask(*messages: dict, tools=(CODE_INTERPRETER,), system: str = SYSTEM) -> offline.Completion:
    return offline.complete(
        {"model": "gpt-4o", "messages": [{"role": "system", "content": system}, *messages], "tools": list(tools)}
    )


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def ran(code: str, output: dict) -> list[dict]:
    """The assistant's code call and the tool's result, as the runtime puts them in the prompt."""
    call = {"id": "call_1", "type": "function", "function": {"name": "code_interpreter", "arguments": ""}}
    call["function"]["arguments"] = json.dumps({"code": code})
    return [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": json.dumps(output)},
    ]


def code_called(completion: offline.Completion) -> str:
    (call,) = completion.tool_calls
    assert call.name == "code_interpreter"
    return json.loads(call.arguments)["code"]


def test_the_runtimes_tool_is_known_as_code_and_takes_no_role_of_the_shops():
    toolbox = Toolbox.from_request([CODE_INTERPRETER, *CONCIERGE_TOOLS])

    tool, argument = code_tool(toolbox)

    assert (tool.name, argument) == ("code_interpreter", "code")
    assert OfferedTool.from_definition(CODE_INTERPRETER).role is None
    assert code_tool(Toolbox.from_request(CONCIERGE_TOOLS)) is None


def test_the_files_come_from_the_system_prompt():
    assert data_files(f"Be brief.\n{FILES}\nOrders verified: none.") == ["notes.txt", "sales.csv"]
    assert data_files("Files for x, in /mnt/data: /mnt/data/my sales.csv, /mnt/data/b.csv.") == [
        "my sales.csv",
        "b.csv",
    ]


@pytest.mark.parametrize(
    ("question", "request_"),
    [
        ("total revenue by region", DataRequest("aggregate", "sales.csv", "sum", "revenue", "region")),
        (
            "What is the average order value per country?",
            DataRequest("aggregate", "sales.csv", "mean", "order value", "country"),
        ),
        ("Plot sales per month", DataRequest("aggregate", "sales.csv", "sum", "sales", "month", True, True)),
        (
            "Can you chart the monthly revenue?",
            DataRequest("aggregate", "sales.csv", "sum", "revenue", "month", True, True),
        ),
        ("How many orders per status?", DataRequest("aggregate", "sales.csv", "count", None, "status")),
        ("highest units by product in the file", DataRequest("aggregate", "sales.csv", "max", "units", "product")),
        ("What's the total revenue?", DataRequest("aggregate", "sales.csv", "sum", "revenue", None)),
        ("describe this file", DataRequest("describe", "sales.csv")),
        ("Give me an overview of notes.txt", DataRequest("describe", "notes.txt")),
    ],
)
def test_plain_questions_become_requests_about_the_latest_table(question, request_):
    assert read_request(question, ["notes.txt", "sales.csv"]) == request_


@pytest.mark.parametrize(
    ("question", "chosen"),
    [
        ("plot conversations per day", "conversations.csv"),
        ("count tool calls by name", "tool_calls.csv"),
        ("How many escalations per status?", "escalations.csv"),
        ("total refund amount by reason in returns", "returns.csv"),
        ("describe this file", "tool_calls.csv"),  # no name: the latest table
    ],
)
def test_a_question_naming_a_files_stem_in_words_reads_that_file(question, chosen):
    files = ["conversations.csv", "escalations.csv", "returns.csv", "tool_calls.csv"]
    assert read_request(question, files).file == chosen


def test_a_question_becomes_template_code_that_reads_the_file():
    code = code_called(ask(user("What is the total revenue by region?")))

    assert "frame = pd.read_csv('/mnt/data/sales.csv'" in code
    assert "how = 'sum'" in code and "measure = ['revenue', 'sales', 'amount', 'total']" in code
    assert "group = 'region'" in code
    compile(code, "<template>", "exec")


def test_a_python_block_is_run_as_written():
    code = "import math\nprint(math.factorial(5))\n"

    assert code_called(ask(user(f"Run this please:\n```python\n{code}```\nThanks!"))) == code


def test_the_answer_quotes_the_printed_figures():
    logs = "Total Revenue by Region (sales.csv, 6 rows):\nNorth: 420.25\nSouth: 290.00\nEast: 40.25\nAll: 750.50\n"
    question = user("total revenue by region")

    answer = ask(question, *ran("…", {"logs": logs, "error": None, "message_files": []})).content

    assert answer == (
        "Total Revenue by Region (sales.csv, 6 rows):\n\n"
        "- North: **420.25**\n- South: **290.00**\n- East: **40.25**\n\nAll together: **750.50**."
    )


def test_a_chart_is_announced_and_the_saved_figures_linked():
    logs = "Total Revenue by month (sales.csv, 6 rows):\n2024-01: 200.50\nAll: 200.50\n"
    logs += "The figures are also in /mnt/data/t.csv.\n"
    made = [
        {"file_id": "file-img", "name": "image-1.png", "image": True},
        {
            "file_id": "file-t",
            "name": "t.csv",
            "image": False,
            "path": "/mnt/data/t.csv",
            "link": "sandbox:/mnt/data/t.csv",
        },
    ]

    answer = ask(user("plot sales per month"), *ran("…", {"logs": logs, "error": None, "message_files": made})).content

    assert "- 2024-01: **200.50**" in answer and "/mnt/data/t.csv." not in answer.split("\n")[2]
    assert answer.endswith("Here's the chart.\n\nThe figures are also in [t.csv](sandbox:/mnt/data/t.csv).")


def test_the_users_code_gets_its_output_and_its_error():
    error = 'Traceback (most recent call last):\n  File "<cell 1>", line 2\nZeroDivisionError: division by zero\n'
    output = {"logs": "before\n", "error": error, "message_files": []}

    answer = ask(user("```python\nprint('before')\n1/0\n```"), *ran("…", output)).content

    assert answer.startswith("I ran the code. It printed:\n\n```\nbefore\n```")
    assert "It stopped with an error:" in answer and "ZeroDivisionError: division by zero" in answer


def test_a_column_that_is_not_there_is_said_plainly():
    logs = "Could not find a column for profit in sales.csv; its columns are: Date, Region, Revenue.\n"

    answer = ask(user("total profit by region"), *ran("…", {"logs": logs, "error": None, "message_files": []})).content

    assert answer.startswith("Could not find a column for profit in sales.csv; its columns are: Date, Region, Revenue.")


def test_a_tool_that_could_not_run_the_code_is_said_so():
    output = {"error": {"code": "timeout", "message": "The code_interpreter tool did not answer in time."}}

    answer = ask(user("describe this file"), *ran("…", output)).content

    assert answer == "I couldn't run the code: The code_interpreter tool did not answer in time."


def test_a_data_question_without_a_file_or_a_template_is_refused_plainly():
    without_file = ask(user("plot sales per month"), system="You analyse data.").content
    no_template = ask(user("Which customers are likely to churn, from the data?")).content

    assert without_file.startswith("I don't have a data file to work on.")
    assert no_template.startswith("I can't turn that into code on my own.")
    assert "```python" in no_template


def test_any_other_question_with_data_at_hand_is_refused_plainly():
    answer = ask(user("Which customers will churn next quarter?")).content

    assert answer.startswith("I can't turn that into code on my own.")


def test_other_messages_are_answered_as_without_the_tool():
    tools = [CODE_INTERPRETER, *CONCIERGE_TOOLS]
    greeting = ask(user("Hello!"), tools=tools)
    order = ask(user("Where is my order A1001? My email is alice@example.com"), tools=tools)

    assert not greeting.tool_calls and "virtual assistant" in greeting.content
    assert [call.name for call in order.tool_calls] == ["get_order_status"]
