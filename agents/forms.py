"""Forms of the console that need more than one field read from a POST."""

from __future__ import annotations

from django import forms

from agents.metrics import Period

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
