"""Who is acting: every service takes an Actor explicitly, for permissions and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActorKind(StrEnum):
    CUSTOMER = "customer"  # a customer acting for themselves (token, widget, or verified in a thread)
    SHOP = "shop"  # the shop's own backend, through an API key
    STAFF = "staff"  # an admin or support agent
    ASSISTANT = "assistant"  # the AI assistant, acting for the customer it verified
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    ident: str
    customer_id: int | None = None  # set when the actor may only touch one customer's orders

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.ident}"

    @property
    def sees_all_orders(self) -> bool:
        return self.kind in (ActorKind.SHOP, ActorKind.STAFF, ActorKind.SYSTEM)

    @property
    def may_decide_returns(self) -> bool:
        """Approving, rejecting and refunding is for the shop's people and systems, never a customer."""
        return self.kind in (ActorKind.SHOP, ActorKind.STAFF, ActorKind.SYSTEM)

    @classmethod
    def customer(cls, customer_id: int) -> Actor:
        return cls(ActorKind.CUSTOMER, str(customer_id), customer_id=customer_id)

    @classmethod
    def staff(cls, username: str) -> Actor:
        return cls(ActorKind.STAFF, username)

    @classmethod
    def shop(cls, key_name: str) -> Actor:
        return cls(ActorKind.SHOP, key_name)

    @classmethod
    def assistant(cls, thread_id: str, customer_id: int | None) -> Actor:
        return cls(ActorKind.ASSISTANT, thread_id, customer_id=customer_id)

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(ActorKind.SYSTEM, name)
