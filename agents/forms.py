"""Forms of the console that need more than one field read from a POST."""

from __future__ import annotations

from django import forms

from agents.inbox import ASSIGNEE_ME, ASSIGNEE_NONE, MAX_QUERY_CHARS, WAITING, InboxFilters
from agents.metrics import Period
from agents.models import ConversationTag
from runtime.models import Thread
from runtime.summaries import MOODS

TAG_MAX_CHARS = ConversationTag._meta.get_field("name").max_length

MAX_PERIOD_DAYS = 366


class MetricsPeriodForm(forms.Form):
    """?from=YYYY-MM-DD&to=YYYY-MM-DD (both days included); either may be left out."""

    start = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    end = forms.DateField(required=False, input_formats=["%Y-%m-%d"])

    def __init__(self, data=None, **kwargs) -> None:
        # "from" is a Python keyword, so the form's fields are start/end and the query names map onto them.
        if data is not None:
            data = {"start": data.get("from", ""), "end": data.get("to", "")}
        super().__init__(data, **kwargs)

    def clean(self) -> dict:
        cleaned = super().clean()
        default = Period.last_days(7)
        start, end = cleaned.get("start"), cleaned.get("end")
        if self.errors:
            return cleaned
        end = end or (start + (default.last_day - default.first_day) if start else default.last_day)
        start = start or end - (default.last_day - default.first_day)
        if start > end:
            raise forms.ValidationError("The period's first day must not be after its last day.")
        if (end - start).days >= MAX_PERIOD_DAYS:
            raise forms.ValidationError(f"Pick a period of at most {MAX_PERIOD_DAYS} days.")
        cleaned["start"], cleaned["end"] = start, end
        return cleaned

    def period(self) -> Period:
        return Period(self.cleaned_data["start"], self.cleaned_data["end"])


class InboxFilterForm(forms.Form):
    """The inbox's search and filters, from the query string: ?q=&mode=&assignee=&mood=&waiting=&tag=&page=."""

    q = forms.CharField(required=False, max_length=MAX_QUERY_CHARS, strip=True)
    mode = forms.ChoiceField(required=False, choices=[("", "Any status"), *Thread.Mode.choices])
    assignee = forms.CharField(required=False, max_length=20)
    mood = forms.ChoiceField(required=False, choices=[("", "Any mood"), *((m, m.capitalize()) for m in MOODS)])
    waiting = forms.ChoiceField(
        required=False, choices=[("", "Any waiting time"), *((k, label) for k, (label, _) in WAITING.items())]
    )
    tag = forms.CharField(required=False, max_length=TAG_MAX_CHARS)

    def clean_q(self) -> str:
        return " ".join(self.cleaned_data["q"].split())

    def clean_assignee(self) -> str:
        value = self.cleaned_data["assignee"]
        if value in ("", ASSIGNEE_ME, ASSIGNEE_NONE) or (value.isdigit() and len(value) < 10):
            return value
        raise forms.ValidationError("Choose me, unassigned or an agent.")

    def clean_tag(self) -> str:
        return self.cleaned_data["tag"].strip().lower()

    def filters(self) -> InboxFilters:
        data = self.cleaned_data
        return InboxFilters(**{name: data.get(name) or "" for name in InboxFilters.__dataclass_fields__})
