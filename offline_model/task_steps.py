"""How each task moves one step forward: order lookups and tracking, returns, cancellations,
hand-offs to a person, help-article search.

A step is a question for a missing fact, a confirmation, or tool calls. Acting on an order (a
return, a cancellation, tracking for an anonymous visitor) first proves it is the customer's with
a successful status lookup, unless the acting tool takes the email itself.
"""

from __future__ import annotations

import re

from offline_model import phrasing
from offline_model.documents import follow_up_words, searched_text
from offline_model.functions import ask_described
from offline_model.intents import Intent, is_bare_answer
from offline_model.slots import (
    Item,
    free_item_in,
    match_items,
    ordinal_in,
    quantity_in,
    reason_clause,
    reason_in,
)
from offline_model.toolbox import Facts, OfferedTool, fill_arguments
from offline_model.turn import Call, Reply, Turn

PURPOSES = {
    "status": "look that up",
    "tracking": "track your parcel",
    "return": "start your return",
    "cancel": "cancel your order",
}


class Tasks:
    def __init__(self, turn: Turn):
        self.turn = turn
        self.tools = turn.tools
        self.conversation = turn.conversation

    # --- lookups -------------------------------------------------------------------------------

    def lookup(self, start: int, role: str) -> Reply:
        """Status or tracking of the orders the customer named (several at once: parallel calls)."""
        tool = self.tools.for_role(role) or self.tools.for_role("status")
        if tool is None:
            if self.tools.for_role("list_orders"):
                return self.list_orders()
            return Reply(text=phrasing.cannot("look up orders"))
        purpose = PURPOSES[role]
        latest = self.conversation.latest_order()
        orders = self.conversation.orders_mentioned(start) or ([latest] if latest else [])
        if not orders:
            if self.tools.for_role("list_orders") and self.turn.customer:
                return self.list_orders()
            arguments, missing = fill_arguments(tool, self.turn.facts())
            if not any(self.turn.slot(tool, prop) == "order_number" for prop in tool.properties):
                # A shop's own function that finds the parcel by something else (its tracking number).
                return ask_described(tool, missing) if missing else Reply(calls=(Call(tool.name, arguments),))
            wanted = self.turn.missing_facts(tool, arguments, missing)
            if "order_number" not in wanted:
                wanted.insert(0, "order_number")
            return Reply(text=phrasing.ask_for(wanted, None, purpose=purpose))
        calls: list[Call] = []
        wanted = []
        for number in orders:
            proof = self.verify_first(number, purpose, acting=tool) if tool.role != "status" else None
            if proof is not None and not proof.calls:
                return proof
            steps = list(proof.calls) if proof else []
            if not steps:
                arguments, missing = fill_arguments(tool, self.turn.facts(number))
                still = self.turn.missing_facts(tool, arguments, missing)
                wanted += [fact for fact in still if fact not in wanted]
                steps = [] if still else [Call(tool.name, arguments)]
            calls += [call for call in steps if call not in calls]
        if wanted:
            return Reply(text=phrasing.ask_for(wanted, orders[-1], purpose=purpose))
        return Reply(calls=tuple(calls))

    def list_orders(self) -> Reply:
        tool = self.tools.for_role("list_orders")
        if tool is None:
            return self.lookup(len(self.turn.texts) - 1, "status")
        arguments, missing = fill_arguments(tool, self.turn.facts())
        wanted = self.turn.missing_facts(tool, arguments, missing)
        if wanted:
            return Reply(text=phrasing.ask_for(wanted, None, purpose="find your orders"))
        return Reply(calls=(Call(tool.name, arguments),))

    def verify_first(self, order: str, purpose: str, *, acting: OfferedTool | None) -> Reply | None:
        """The status lookup that proves `order` is the customer's, or the question it needs; None if proven.

        With `acting` (a tool about to act on the order), no proof is needed when that tool takes the
        email itself or the customer is signed in (their own orders are theirs).
        """
        checker = self.tools.for_role("status")
        if checker is None or order in self.conversation.verified_orders():
            return None
        if acting is not None:
            takes_email = any(self.turn.slot(acting, prop) == "email" for prop in acting.properties)
            if takes_email or self.turn.customer:
                return None
        arguments, missing = fill_arguments(checker, self.turn.facts(order))
        wanted = self.turn.missing_facts(checker, arguments, missing)
        if wanted:
            return Reply(text=phrasing.ask_for(wanted, order, purpose=purpose))
        return Reply(calls=(Call(checker.name, arguments),))

    # --- returns and cancellations ------------------------------------------------------------

    def open_return(self, start: int) -> Reply:
        """Verify the order, settle item, reason and quantity, confirm in words, and only then call."""
        tool = self.tools.for_role("return")
        if tool is None:
            return Reply(text=phrasing.cannot("open returns"))
        span = self.turn.texts[start:]
        order = self.order_for(start)
        if order is None:
            return self.ask_order(PURPOSES["return"])
        proof = self.verify_first(order, PURPOSES["return"], acting=None)
        if proof is not None:
            return proof

        needs = {self.turn.slot(tool, prop) for prop in tool.properties}
        facts = self.turn.facts(order)
        if "item" in needs:
            question = self.choose_item(facts, start, order)
            if question is not None:
                return question
        item_name = facts.item.name if facts.item else facts.item_text or "item"
        facts.reason, facts.reason_text = self.reason(start)
        if facts.reason is None and "reason" in needs:
            return Reply(text=phrasing.ask_reason(item_name, again="reason" in self.turn.asked))
        stated = next((q for q in (quantity_in(text, facts.item) for text in reversed(span)) if q), None)
        limit = facts.item.quantity if facts.item and facts.item.quantity else None
        facts.quantity = min(stated or 1, limit) if limit else stated or 1

        arguments, missing = fill_arguments(tool, facts)
        wanted = self.turn.missing_facts(tool, arguments, missing)
        if wanted:
            return Reply(text=phrasing.ask_for(wanted, order, purpose=PURPOSES["return"]))
        confirmation = self.confirmation("confirm_return", adds_detail=self.adds_return_detail())
        if confirmation == "yes":
            return Reply(calls=(Call(tool.name, arguments),))
        if confirmation == "no":
            return Reply(text=phrasing.declined_return())
        reason = facts.reason if "reason" in needs else None
        return Reply(text=phrasing.confirm_return(facts.quantity, item_name, order, reason))

    def cancel(self, start: int) -> Reply:
        tool = self.tools.for_role("cancel")
        if tool is None:
            return Reply(text=phrasing.cannot("cancel orders"))
        order = self.order_for(start)
        if order is None:
            return self.ask_order(PURPOSES["cancel"])
        proof = self.verify_first(order, PURPOSES["cancel"], acting=None)
        if proof is not None:
            return proof
        arguments, missing = fill_arguments(tool, self.turn.facts(order))
        wanted = self.turn.missing_facts(tool, arguments, missing)
        if wanted:
            return Reply(text=phrasing.ask_for(wanted, order, purpose=PURPOSES["cancel"]))
        confirmation = self.confirmation("confirm_cancel", adds_detail=False)
        if confirmation == "yes":
            return Reply(calls=(Call(tool.name, arguments),))
        if confirmation == "no":
            return Reply(text=phrasing.declined_cancel())
        return Reply(text=phrasing.confirm_cancel(order))

    def confirmation(self, question: str, *, adds_detail: bool) -> str | None:
        """The customer's answer to our confirmation `question`: "yes", "no", or None (neither)."""
        if question not in self.turn.asked:
            return None
        if Intent.YES in self.turn.intents:
            return "yes"
        if Intent.NO in self.turn.intents and not adds_detail:
            return "no"
        return None

    def order_for(self, start: int) -> str | None:
        found = self.conversation.orders_mentioned(start)
        return found[-1] if found else self.conversation.latest_order()

    def ask_order(self, purpose: str) -> Reply:
        checker = self.tools.for_role("status")
        wanted = ["order_number"]
        if checker is not None:
            arguments, missing = fill_arguments(checker, self.turn.facts())
            wanted += self.turn.missing_facts(checker, arguments, missing)
        return Reply(text=phrasing.ask_for(list(dict.fromkeys(wanted)), None, purpose=purpose))

    def choose_item(self, facts: Facts, start: int, order: str) -> Reply | None:
        """Put the item to return into `facts`, or give the step that settles it (a question, or the
        order's lookup when no result listed its items yet).

        The latest turn naming an item wins; an answer to our "which item?" may also name it by its
        place in the list that question showed, or (when no result lists items) in its own words. An
        item the order does not have is named back with the items it does have.
        """
        items = self.conversation.known_items(order)
        if not items:
            lookup = self.learn_items(order)
            if lookup is not None:
                return lookup
        texts = self.turn.texts
        unmatched: str | None = None
        for index in range(len(texts) - 1, start - 1, -1):
            prompt = self.conversation.prompt_before(index)
            answering = "item" in phrasing.asked_in(prompt)
            if is_bare_answer(texts[index]):  # "yes" names no item, whatever was asked
                continue
            if not items:  # the results list no items (a shop's own function): take the customer's words
                facts.item_text = free_item_in(texts[index], answer=answering)
                if facts.item_text:
                    return None
                continue
            matches = match_items(texts[index], items) or (picked(items, texts[index], prompt) if answering else [])
            if len(matches) == 1:
                facts.item = matches[0]
                if facts.item.returnable is False:
                    return Reply(text=phrasing.not_returnable(facts.item.name, order))
                return None
            if matches:
                return Reply(text=phrasing.ask_item(matches, order))
            unmatched = unmatched or free_item_in(texts[index], answer=answering)
        if len(items) == 1:
            facts.item = items[0]
            return None
        if unmatched and len(unmatched.split()) > 4:
            unmatched = ""  # a sentence, not an item's name: say so without quoting it
        if unmatched is None and "item" in self.turn.asked and not is_bare_answer(self.turn.last):
            unmatched = ""  # an answer to "which item?" that names none of them
        return Reply(text=phrasing.ask_item(items, order, unmatched=unmatched))

    def learn_items(self, order: str) -> Reply | None:
        """The status lookup that lists `order`'s items, when none was made and it can be (a signed-in
        customer's order needs no email); None otherwise."""
        checker = self.tools.for_role("status")
        if checker is None:
            return None
        looked_up = any(
            exchange.order_number == order and self.tools.role_of(exchange.name) == "status"
            for exchange in self.conversation.successful()
        )
        if looked_up:
            return None
        arguments, missing = fill_arguments(checker, self.turn.facts(order))
        return None if missing else Reply(calls=(Call(checker.name, arguments),))

    def reason(self, start: int) -> tuple[str | None, str]:
        """(canonical reason, the customer's words for it); any answer to our reason question counts,
        except a bare yes or no ("Yes, please go ahead" gives no reason)."""
        texts = self.turn.texts
        for index in range(len(texts) - 1, start - 1, -1):
            found = reason_in(texts[index])
            if found:
                return found, reason_clause(texts[index])
            answered = "reason" in phrasing.asked_in(self.conversation.prompt_before(index))
            if answered and texts[index].strip() and not is_bare_answer(texts[index]):
                return "other", texts[index].strip()
        return None, ""

    def adds_return_detail(self) -> bool:
        """Whether the latest message changes the return about to be confirmed: a reason, an item, or
        how many ("no, all of them")."""
        last = self.turn.last
        items = self.conversation.known_items(None)
        return bool(reason_in(last) or match_items(last, items) or any(quantity_in(last, item) for item in items))

    def withdraw(self) -> Reply | None:
        """Withdraw the request that waits for a colleague's approval, when one waits and a tool can;
        None otherwise (the customer's words then read as whatever else they say)."""
        tool = self.tools.for_role("withdraw")
        return Reply(calls=(Call(tool.name, {}),)) if tool is not None and self.awaiting_approval() else None

    def awaiting_approval(self) -> bool:
        """Whether a tool answered that a request waits for approval, with no withdrawal since (one made
        in answer to the latest message still counts as waiting: it is this turn's own)."""
        waiting = False
        for exchange in self.conversation.exchanges:
            if isinstance(exchange.output, dict) and exchange.output.get("status") == "awaiting_approval":
                waiting = True
            elif self.tools.role_of(exchange.name) == "withdraw" and exchange.after_user_turn < self.conversation.turn:
                waiting = False
        return waiting

    # --- people and articles ------------------------------------------------------------------

    def escalate(self) -> Reply:
        tool = self.tools.for_role("human")
        if tool is None:
            return Reply(text=phrasing.no_handoff(self.turn.team_contact()))
        facts = self.turn.facts(self.conversation.latest_order())
        arguments, missing = fill_arguments(tool, facts)
        for prop in missing:  # whatever else a hand-off tool insists on, the summary says best
            schema = tool.properties.get(prop, {})
            arguments[prop] = schema["enum"][0] if schema.get("enum") else facts.summary
        return Reply(calls=(Call(tool.name, arguments),))

    def search_knowledge(self) -> Reply | None:
        tool = self.tools.for_role("knowledge")
        if tool is None:
            return None
        facts = self.turn.facts()
        facts.keywords = self.follow_up_search() or facts.keywords
        arguments, missing = fill_arguments(tool, facts)
        return None if missing else Reply(calls=(Call(tool.name, arguments),))

    def follow_up_search(self) -> str | None:
        """The search words for a follow-up ("and for Canada?") to the search that answered the previous
        message, carrying its topic on; None when the latest message is no such follow-up."""
        earlier = [
            exchange
            for exchange in self.conversation.successful()
            if exchange.after_user_turn == self.conversation.turn - 1
            and self.tools.role_of(exchange.name) == "knowledge"
        ]
        if not earlier:
            return None
        return follow_up_words(self.turn.last, searched_text(earlier[-1].arguments))


def picked(items: list[Item], answer: str, question: str) -> list[Item]:
    """The item picked by position ("the first one") from the list `question` showed in bold."""
    position = ordinal_in(answer)
    shown = [item for name in re.findall(r"\*\*(.+?)\*\*", question) for item in items if item.name == name]
    if position is None or not -len(shown) <= position < len(shown):
        return []
    return [shown[position]]
