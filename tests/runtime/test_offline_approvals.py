"""The offline model with a request that needs a colleague's approval: it tells the customer at once,
in the words the tool gives, and withdraws the request when the customer no longer wants it.

Driven through the real openai SDK, in-process and over loopback, as tests/runtime/test_offline_model.py.
"""

from __future__ import annotations

import pytest

from runtime.tools.approvals import awaiting_approval_result
from tests.runtime.test_offline_model import CONCIERGE_TOOLS, Chat, client, concierge_shop, function, loopback

__all__ = ["client", "loopback"]  # the SDK clients of test_offline_model, as fixtures here

WITHDRAW = function(
    "withdraw_request",
    "Withdraw the customer's request that waits for a colleague's approval (a large refund, say) when the "
    "customer no longer wants it. Nothing of it was done; say so.",
    {},
    [],
)
WAITING = awaiting_approval_result("the return of 2 × Ceramic Mug from order A1001 for a refund of 25.00 USD")
WITHDRAWN = "I've withdrawn your request (the return of 2 × Ceramic Mug from order A1001 for a refund of 25.00 USD)."


def approving_shop(name: str, args: dict) -> dict:
    """Concierge's tools, with a return above the shop's approval threshold."""
    if name == "initiate_return":
        return WAITING
    if name == "withdraw_request":
        return {"withdrawn": 1, "message": WITHDRAWN}
    return concierge_shop(name, args)


@pytest.fixture
def chat(client) -> Chat:
    chat = Chat(client, [*CONCIERGE_TOOLS, WITHDRAW], approving_shop)
    chat.say("Return both mugs from A1001 please, wrong colour. alice@example.com")
    return chat


def test_a_return_waiting_for_approval_is_told_in_the_tools_words(chat):
    done = chat.say("yes")

    assert [name for name, _ in done.calls] == ["initiate_return"]
    assert done.text == WAITING["message"]  # not "Done! I've opened return…": nothing was opened


@pytest.mark.parametrize(
    "words",
    ["Never mind, cancel the return request", "I don't want the return anymore", "Please withdraw my request"],
)
def test_the_customer_withdraws_a_request_waiting_for_approval(chat, words):
    chat.say("yes")

    withdrawn = chat.say(words)

    assert withdrawn.calls == [("withdraw_request", {})]
    assert withdrawn.text == WITHDRAWN


def test_nothing_is_withdrawn_while_no_request_waits(client):
    chat = Chat(client, [*CONCIERGE_TOOLS, WITHDRAW], concierge_shop)
    chat.say("Return both mugs from A1001 please, wrong colour. alice@example.com")
    chat.say("yes")  # opened at once: below the threshold

    said = chat.say("Never mind, cancel the return request")

    assert "withdraw_request" not in [name for name, _ in said.calls]
