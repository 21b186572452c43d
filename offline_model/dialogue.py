"""The offline model's dialogue policy: from a conversation and the offered tools to one reply.

Every turn is worked out afresh from the transcript (the model keeps no state): the goal is the
latest task the customer asked for, its facts come from the user turns since that goal began and
from earlier tool results, and the reply is the next step towards it (see `task_steps`). Tool results
that just came back are phrased into the answer, followed by the next question if there is one.
Data questions, when a tool that runs Python is offered, are `analysis`'s.
"""

from __future__ import annotations

import re

from offline_model import phrasing
from offline_model.analysis import analyse
from offline_model.conversation import Conversation, ToolExchange
from offline_model.functions import call_with_values
from offline_model.intents import (
    QUESTION_RE,
    QUESTION_START_RE,
    Intent,
    detect,
    is_general_question,
    names_help_topic,
    task_of,
)
from offline_model.results import phrase_result
from offline_model.slots import emails_in, match_items, order_numbers_in, reason_in
from offline_model.task_steps import Tasks
from offline_model.toolbox import Toolbox
from offline_model.turn import Call, Reply, Turn, signature

__all__ = ["Call", "Reply", "respond"]

# Which tool roles, once they succeed, complete a goal.
GOAL_ROLES = {
    Intent.STATUS: {"status"},
    Intent.TRACKING: {"tracking", "status"},
    Intent.LIST_ORDERS: {"list_orders"},
    Intent.RETURN: {"return"},
    Intent.CANCEL: {"cancel"},
}
# Questions whose answer carries the task on, whatever words it uses.
OPEN_QUESTIONS = {"email", "order_number", "item", "reason", "confirm_return", "confirm_cancel"}
# Messages that break off from a question rather than answer it.
INTERRUPTIONS = {
    Intent.THANKS,
    Intent.GOODBYE,
    Intent.FRUSTRATION,
    Intent.CONFUSION,
    Intent.HUMAN,
    Intent.POLICY_QUESTION,
}


def respond(conversation: Conversation, toolbox: Toolbox, *, parallel_tool_calls: bool = True) -> Reply:
    """The assistant's next message: text, or tool calls (several at once when parallel calls are allowed)."""
    return Dialogue(conversation, toolbox).respond(parallel=parallel_tool_calls)


class Dialogue:
    def __init__(self, conversation: Conversation, toolbox: Toolbox):
        self.turn = Turn(conversation, toolbox)
        self.tasks = Tasks(self.turn)
        self.conversation = conversation
        self.tools = toolbox
        self.texts = conversation.user_texts
        self.intents = self.turn.intents

    def respond(self, *, parallel: bool) -> Reply:
        reply = self.answer(parallel=parallel)
        if self.conversation.last_user_images and reply.text and not reply.calls:
            return Reply(text=phrasing.photo_noted(reply.text))
        return reply

    def answer(self, *, parallel: bool) -> Reply:
        analysis = analyse(self.conversation, self.tools)  # a data question, when a tool runs Python
        if analysis is not None:
            return analysis
        plan = self.plan()
        since = self.conversation.since_last_user
        if plan.calls:
            made = {signature(e.name, e.arguments) for e in since}
            remaining = tuple(call for call in plan.calls if call.signature not in made)
            if remaining:
                return Reply(calls=remaining if parallel else remaining[:1])
            plan = Reply()
        results = [exchange for exchange in since if exchange.answered]
        if not results:
            return plan if plan.text else Reply(text=phrasing.FALLBACK)
        signed_in = self.turn.customer is not None
        parts = [phrase_result(e, self.tools.role_of(e.name), signed_in=signed_in) for e in self.worth_telling(results)]
        if plan.text:
            parts.append(plan.text)
        failed_now = sum(exchange.failed for exchange in results)
        frustrated = Intent.FRUSTRATION in self.intents
        if frustrated:
            parts.insert(0, "I'm sorry for the trouble.")
        offered = any("offer_human" in phrasing.asked_in(part) for part in parts)
        if (frustrated or (failed_now and self.turn.failures + failed_now >= 2)) and not offered:
            parts.append(phrasing.OFFER_HUMAN)
        return Reply(text="\n\n".join(parts))

    def worth_telling(self, results: list[ToolExchange]) -> list[ToolExchange]:
        """The results to phrase: a lookup made only to verify an order says nothing tracking doesn't."""
        tracked = {e.order_number for e in results if not e.failed and self.tools.role_of(e.name) == "tracking"}
        return [
            e
            for e in results
            if not (self.tools.role_of(e.name) == "status" and not e.failed and e.order_number in tracked)
        ]

    def plan(self) -> Reply:
        intents = self.intents
        withdrawn = self.tasks.withdraw() if Intent.WITHDRAW in intents else None
        if withdrawn is not None:
            return withdrawn
        confirming = self.turn.asked & {"confirm_return", "confirm_cancel"}
        accepts_offer = "offer_human" in self.turn.asked and Intent.YES in intents and not confirming
        if Intent.HUMAN in intents or (accepts_offer and not task_of(intents)):
            return self.tasks.escalate()
        by_values = call_with_values(self.turn)  # a shop's own function the customer's words fill
        if by_values is not None:
            return by_values
        if self.is_policy_question():
            return self.tasks.search_knowledge() or self.fallback()
        goal, start = self.goal()
        if goal is None and Intent.FRUSTRATION in intents:
            return Reply(text=phrasing.apology_with_offer())
        if goal is not None:
            reply = self.pursue(goal, start)
            if Intent.FRUSTRATION in intents and reply.text and not reply.calls:
                return Reply(text=f"I'm sorry for the trouble. {reply.text}\n\n{phrasing.OFFER_HUMAN}")
            return reply
        if self.asks_something():
            searched = self.tasks.search_knowledge()
            if searched:
                return searched
            if self.is_plain_question():  # read, but nothing to answer it from: say so, not "I didn't catch that"
                return self.small_talk() or Reply(text=phrasing.unanswered())
        return self.small_talk() or self.fallback()

    def pursue(self, goal: Intent, start: int) -> Reply:
        if goal == Intent.RETURN:
            return self.tasks.open_return(start)
        if goal == Intent.CANCEL:
            return self.tasks.cancel(start)
        if goal == Intent.TRACKING:
            return self.tasks.lookup(start, "tracking")
        if goal == Intent.LIST_ORDERS:
            return self.tasks.list_orders()
        return self.tasks.lookup(start, "status")

    def small_talk(self) -> Reply | None:
        intents = self.intents
        customer = self.turn.customer
        if "offer_human" in self.turn.asked and Intent.NO in intents:
            return Reply(text=phrasing.declined_human())
        if Intent.GREETING in intents:
            return Reply(text=phrasing.greeting(customer.name if customer else None))
        if Intent.THANKS in intents:
            return Reply(text=phrasing.thanks(goodbye=Intent.GOODBYE in intents))
        if Intent.GOODBYE in intents:
            return Reply(text=phrasing.goodbye())
        if emails_in(self.turn.last):
            return Reply(text=phrasing.noted_email(emails_in(self.turn.last)[-1]))
        if Intent.CONFUSION in intents:
            return Reply(text=f"Sorry for the confusion! {phrasing.CAPABILITIES} What would you like to do?")
        return None

    def fallback(self) -> Reply:
        if self.turn.failures >= 2:
            return Reply(text=phrasing.apology_with_offer())
        return Reply(text=phrasing.FALLBACK)

    def is_policy_question(self) -> bool:
        """A general question about the shop (its policies, shipping, payments, hours), not about an order
        of the customer's: for its help articles, when a search tool is offered."""
        last = self.turn.last
        if not self.tools.for_role("knowledge") or emails_in(last) or order_numbers_in(last, self.turn.prefix):
            return False
        if Intent.POLICY_QUESTION in self.intents:
            return True
        return is_general_question(last, self.intents, answering=bool(self.turn.asked & OPEN_QUESTIONS))

    def asks_something(self) -> bool:
        """A message with no task in it that a search may still answer: a question (not a greeting or
        thanks), or a plain statement naming a help topic or following up the previous turn's search
        ("and for Canada")."""
        last = self.turn.last
        if QUESTION_RE.search(last):
            return not self.intents & {Intent.GREETING, Intent.THANKS}
        return not self.intents and bool(names_help_topic(last) or self.tasks.follow_up_search())

    def is_plain_question(self) -> bool:
        """A question the customer asks about something ("Do you sell gift wrapping?"), not a plea for help
        ("can you help me?", which the capabilities answer)."""
        last = self.turn.last
        if re.search(r"\b(help|assist)\b", last, re.IGNORECASE) or len(last.split()) < 3:  # "what?" is confusion
            return False
        return bool(names_help_topic(last) or QUESTION_START_RE.search(last))

    # --- goals ---------------------------------------------------------------------------------

    def goal(self) -> tuple[Intent | None, int]:
        """The task being worked on, and the index of the user turn where its facts begin."""
        last_index = len(self.texts) - 1
        task, index = task_of(self.intents), last_index
        if task is None and self.continues():
            for earlier in range(last_index - 1, -1, -1):
                found = task_of(detect(self.texts[earlier]))
                if found:
                    task, index = found, earlier
                    break
            if task is not None and self.completed_at(task) >= index:
                task = None
        if task is None and order_numbers_in(self.turn.last, self.turn.prefix):
            task, index = Intent.STATUS, last_index
        if task is None:
            return None, -1
        # The facts run back over the turns spent on this task, up to where it was last completed.
        boundary = self.completed_at(task)
        while index - 1 > boundary and task_of(detect(self.texts[index - 1])) in (None, task):
            index -= 1
        return task, index

    def continues(self) -> bool:
        """Whether the latest message carries on an earlier task (answers its question, adds a fact).

        A question of the customer's own while we wait for an order number or an email holds neither,
        so it starts afresh ("Do you sell gift wrapping?" after a lookup that found nothing).
        """
        last = self.turn.last
        if emails_in(last) or order_numbers_in(last, self.turn.prefix):
            return True
        if reason_in(last) or match_items(last, self.conversation.known_items(None)):
            return True
        open_questions = self.turn.asked & OPEN_QUESTIONS
        if not open_questions or self.intents & INTERRUPTIONS:
            return False
        return not (open_questions <= {"email", "order_number"} and QUESTION_RE.search(last))

    def completed_at(self, goal: Intent) -> int:
        """The last earlier user turn whose request for `goal` a successful tool call completed (-1: none)."""
        roles = GOAL_ROLES.get(goal, set())
        turns = [
            exchange.after_user_turn - 1
            for exchange in self.conversation.successful()
            if self.tools.role_of(exchange.name) in roles
        ]
        return max((turn for turn in turns if turn < len(self.texts) - 1), default=-1)
