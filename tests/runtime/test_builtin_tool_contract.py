"""What the runtime offers built-in tools without knowing them (code_interpreter uses each of these):
a string argument read while its JSON is still being written, the files a tool's output lists for
the answer, and the file_path annotations of the links the answer repeats."""

from __future__ import annotations

import json

import pytest

from runtime.engine.citations import MessageFile, file_path_annotations, message_files_in
from runtime.engine.prompt import message_turn
from runtime.engine.tool_stream import StringArgument
from runtime.models import Message
from runtime.serializers import conversation_message, delta_text

CODE = 'import pandas as pd\nprint("naïve \\\\ \\"quoted\\" 😀", \'x\')\t# tab\n'


@pytest.mark.parametrize("ensure_ascii", [False, True])
@pytest.mark.parametrize("size", [1, 2, 5, 12])
def test_a_string_argument_reads_whole_characters_only_whatever_the_fragments(ensure_ascii, size):
    arguments = json.dumps({"code": CODE}, ensure_ascii=ensure_ascii)
    argument = StringArgument("code")
    seen = []
    for end in range(0, len(arguments) + size, size):
        text = argument.read(arguments[:end])
        if text is not None:
            seen.append(text)

    assert seen[-1] == CODE
    assert all(CODE.startswith(text) for text in seen)  # never half an escape or half a surrogate pair
    assert seen == sorted(seen, key=len)


def test_a_string_argument_is_none_until_its_value_begins_and_stops_at_its_end():
    argument = StringArgument("code")
    assert argument.read('{"co') is None
    assert argument.read('{"code": ') is None
    assert argument.read('{"code": "pri') == "pri"
    assert argument.read('{"code": "print(1)", "other": "x"}') == "print(1)"


def test_a_string_argument_that_is_not_json_stops_where_it_breaks():
    argument = StringArgument("code")
    assert argument.read('{"code": "ok ') == "ok "
    assert argument.read('{"code": "ok \\q then') == "ok "
    assert argument.read('{"code": "ok \\q then more"}') == "ok "


def test_a_string_argument_starts_again_when_a_retry_writes_something_else():
    argument = StringArgument("code")
    assert argument.read('{"code": "print(1)') == "print(1)"
    assert argument.read('{"code": "x = 2') == "x = 2"


def test_a_tools_output_lists_its_files_for_the_answer_and_malformed_entries_are_skipped():
    output = json.dumps(
        {
            "message_files": [
                {"file_id": "file-a", "link": "sandbox:/mnt/data/a.csv", "image": False},
                {"file_id": "file-b", "image": True},
                {"file_id": 3},
                "file-c",
                {"link": "sandbox:/mnt/data/d.csv"},
            ]
        }
    )

    assert message_files_in(output) == [
        MessageFile(file_id="file-a", link="sandbox:/mnt/data/a.csv", image=False),
        MessageFile(file_id="file-b", link="", image=True),
    ]
    assert message_files_in("not json") == [] and message_files_in('{"message_files": "x"}') == []


def test_file_path_annotations_span_every_mention_and_prefer_the_longest_link():
    links = {"sandbox:/mnt/data/a.csv": "file-a", "sandbox:/mnt/data/a.csv.gz": "file-gz"}
    text = "See [a.csv](sandbox:/mnt/data/a.csv) and sandbox:/mnt/data/a.csv.gz, again sandbox:/mnt/data/a.csv."

    annotations = file_path_annotations(text, links)

    assert [(a["text"], a["file_path"]["file_id"]) for a in annotations] == [
        ("sandbox:/mnt/data/a.csv", "file-a"),
        ("sandbox:/mnt/data/a.csv.gz", "file-gz"),
        ("sandbox:/mnt/data/a.csv", "file-a"),
    ]
    assert all(text[a["start_index"] : a["end_index"]] == a["text"] for a in annotations)
    assert all(a["type"] == "file_path" for a in annotations)
    assert file_path_annotations("no links here", links) == []


def test_an_answer_with_an_image_reads_as_its_text_wherever_text_is_shown():
    content = [
        {"type": "text", "text": {"value": "Here's the chart.", "annotations": []}},
        {"type": "image_file", "image_file": {"file_id": "file-chart", "detail": "auto"}},
    ]
    message = Message(role="assistant", author="assistant", content=content)
    api_shape = {"id": "msg_1", "role": "assistant", "content": content, "status": "completed", "created_at": 0}
    delta = {"id": "msg_1", "delta": {"content": [{"index": 1, **content[1]}]}}

    assert message.text == "Here's the chart."
    assert conversation_message(message)["text"] == "Here's the chart."
    assert conversation_message(api_shape)["text"] == "Here's the chart."
    assert delta_text(delta) == ""  # the widget's and the console's sockets relay no text for it
    assert message_turn(message).messages == [{"role": "assistant", "content": "Here's the chart."}]
