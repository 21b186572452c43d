"""The admin's form for an endpoint: its URL checked as webhooks.addresses says, its events from the catalog."""

from __future__ import annotations

from django import forms

from webhooks import addresses, catalog
from webhooks.models import Endpoint


class EndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=catalog.CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="The events this endpoint receives.",
    )

    class Meta:
        model = Endpoint
        fields = ["name", "url", "event_types", "is_active"]

    def clean_url(self) -> str:
        """A new or changed URL must pass webhooks.addresses' checks. An unchanged one is not checked
        again (every connection is): an endpoint whose host stopped resolving can still be turned off."""
        url = self.cleaned_data["url"]
        if self.instance.pk and "url" not in self.changed_data:
            return url
        try:
            addresses.check(url)
        except addresses.AddressRefused as refused:
            raise forms.ValidationError(str(refused), code="refused_url") from None
        return url
