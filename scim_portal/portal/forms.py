"""Forms of the Provisioning tab."""

from __future__ import annotations

from typing import Any

from django import forms

from ..models import (
    Connection,
    DeprovisionPolicy,
    DirectoryGroup,
    EmailDomainPolicy,
    LinkPolicy,
)
from ..providers import provider_choices


class ConnectionForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        help_text="A name your team recognises, e.g. “Okta production”.",
    )
    provider = forms.ChoiceField(choices=provider_choices, help_text="Your identity provider.")
    #: One-time key of this form, so a re-submitted POST cannot create a second connection.
    nonce = forms.CharField(widget=forms.HiddenInput)

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the connection a name.")
        return name


class RotateTokenForm(forms.Form):
    label = forms.CharField(
        max_length=100, required=False, help_text="Optional, e.g. “2026 rotation”."
    )
    expires_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Optional. After this moment the token stops working.",
    )
    nonce = forms.CharField(widget=forms.HiddenInput)


class SettingsForm(forms.Form):
    name = forms.CharField(max_length=200)
    default_role = forms.ChoiceField(
        required=False, help_text="Role of users that no mapped group gives a role."
    )
    link_policy = forms.ChoiceField(
        choices=LinkPolicy.choices, help_text="What happens when a new user arrives."
    )
    deprovision_policy = forms.ChoiceField(
        choices=DeprovisionPolicy.choices,
        help_text="What happens when the identity provider deletes a user.",
    )
    out_of_domain_policy = forms.ChoiceField(
        label="Emails outside verified domains",
        choices=EmailDomainPolicy.choices,
        help_text="A user whose email is not on one of this account's verified domains.",
    )

    def __init__(self, *args: Any, roles: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_role"].choices = [("", "No role"), *roles]  # type: ignore[attr-defined]


class RoleMappingForm(forms.Form):
    group = forms.ModelChoiceField(queryset=DirectoryGroup.objects.none())
    role = forms.ChoiceField()
    precedence = forms.IntegerField(
        min_value=0, initial=100, help_text="Lower wins when a user is in several mapped groups."
    )

    def __init__(
        self, *args: Any, connection: Connection, roles: list[tuple[str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        groups = DirectoryGroup.objects.filter(connection=connection).order_by("display_name")
        self.fields["group"].queryset = groups  # type: ignore[attr-defined]
        self.fields["role"].choices = roles  # type: ignore[attr-defined]


class DeleteConnectionForm(forms.Form):
    remove_directory = forms.BooleanField(
        required=False,
        initial=True,
        label="Also remove all users and groups provisioned through this connection",
    )


class AddDomainForm(forms.Form):
    domain = forms.CharField(
        max_length=253,
        label="Domain",
        help_text="The part of your people's email addresses after the @, e.g. example.com.",
    )
