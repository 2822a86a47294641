"""Forms of the Provisioning tab."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..models import (
    Connection,
    DeprovisionPolicy,
    DirectoryGroup,
    EmailDomainPolicy,
    LinkPolicy,
    NotificationKind,
    OAuthApplication,
)
from ..models.connections import MAX_ACCESS_TOKEN_LIFETIME, MIN_ACCESS_TOKEN_LIFETIME
from ..providers import PROVIDERS, AuthMethod, Provider, Value, provider_choices
from ..provisioning.credentials import ISSUABLE_KINDS

#: Form fields of a federated issuer, named after the values they hold.
FEDERATED_FIELDS = (Value.ISSUER, Value.SUBJECT, Value.AUDIENCE, Value.JWKS_URL)


class FederatedFieldsMixin(forms.Form):
    """The issuer, subject, audience and JWKS URL of a federated issuer, labelled as
    ``federated`` (the provider's federated method) shows them, and required only
    when the chosen method is federated."""

    issuer = forms.CharField(label=_("Issuer"), max_length=500, required=False)
    subject = forms.CharField(label=_("Subject"), max_length=500, required=False)
    audience = forms.CharField(label=_("Audience"), max_length=500, required=False)
    jwks_url = forms.CharField(label=_("JWKS URL"), max_length=500, required=False)

    def setup_federated(self, federated: AuthMethod | None, audience: str) -> None:
        self.federated = federated
        if federated is None:
            for name in FEDERATED_FIELDS:
                del self.fields[name]
            return
        for shown in federated.shows:
            field = self.fields[shown.value]
            field.label = (
                # Translators: a form field's label, and that it may be left empty.
                gettext("%(label)s (optional)") % {"label": shown.label}
                if shown.optional
                else shown.label
            )
        self.fields[Value.AUDIENCE].initial = audience
        self.fields[Value.AUDIENCE].help_text = _(
            "The audience its tokens carry; by default this app's token endpoint."
        )
        self.fields[Value.JWKS_URL].help_text = _(
            "Where its signing keys are published; left empty, they are found through "
            "the issuer's OpenID configuration."
        )

    @property
    def federated_fields(self) -> list[forms.BoundField]:
        """The federated issuer's fields, in the order the provider shows them."""
        if self.federated is None:
            return []
        return [self[shown.value] for shown in self.federated.shows]

    def clean_federated(self, kind: str) -> None:
        if kind != "federated":
            for name in FEDERATED_FIELDS:
                self.cleaned_data.pop(name, None)
            return
        for shown in self.federated.shows if self.federated else ():
            value = (self.cleaned_data.get(shown.value) or "").strip()
            if not value and not shown.optional:
                self.add_error(shown.value, gettext("This field is required."))


class MethodSelect(forms.RadioSelect):
    """Radio buttons of which some choices are shown but cannot be chosen, each
    described by a note (``<id>_note``) that the template places after it."""

    disabled_choices: frozenset[str] = frozenset()

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option: dict[str, Any] = super().create_option(*args, **kwargs)
        if str(option["value"]) in self.disabled_choices:
            option["attrs"]["disabled"] = True
            if "id" in option["attrs"]:
                option["attrs"]["aria-describedby"] = f"{option['attrs']['id']}_note"
        return option


class ConnectionForm(FederatedFieldsMixin):
    """A connection of one provider with its first credential, of a method that
    provider offers (its recommended one by default).

    The provider's authorisation method (Okta's OAuth 2) creates the connection
    without a credential: the provider obtains one on the authorisation page, for
    one of the vendor's OAuth ``applications``. Without any, it is shown but cannot
    be chosen.
    """

    name = forms.CharField(
        label=_("Name"),
        max_length=200,
        help_text=_("A name your team recognises, e.g. “Okta production”."),
    )
    provider = forms.ChoiceField(
        label=_("Provider"), choices=provider_choices, help_text=_("Your identity provider.")
    )
    #: Left out, the provider's recommended method.
    method = forms.ChoiceField(
        label=_("Authentication method"), widget=MethodSelect, choices=(), required=False
    )
    #: One-time key of this form, so a re-submitted POST cannot create a second connection.
    nonce = forms.CharField(widget=forms.HiddenInput)

    field_order = ["name", "provider", "method", *FEDERATED_FIELDS, "nonce"]

    def __init__(
        self,
        *args: Any,
        provider: Provider,
        audience: str,
        applications: Sequence[OAuthApplication] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.identity_provider = provider
        self.applications = list(applications)
        self.fields["provider"].widget.attrs["data-refresh"] = "sp-refresh"
        method_field = self.fields["method"]
        method_field.widget.attrs["data-method-choice"] = ""
        method_field.choices = [  # type: ignore[attr-defined]
            (method.kind, method.name) for method in provider.methods
        ]
        if self.authorization is not None and not self.applications:
            method_field.widget.disabled_choices = frozenset({"authorization"})  # type: ignore[attr-defined]
        recommended = provider.default_method
        method_field.initial = (
            recommended.kind if recommended.issuable else provider.issuable_methods[0].kind
        )
        # Translators: e.g. "Okta recommends HTTP Header." (a provider, one of its methods).
        method_field.help_text = gettext("%(provider)s recommends %(method)s.") % {
            "provider": provider.name,
            "method": recommended.name,
        }
        self.setup_federated(provider.method("federated"), audience)

    @property
    def authorization(self) -> AuthMethod | None:
        """The provider's authorisation method, obtained from it rather than issued here."""
        return self.identity_provider.method("authorization")

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the connection a name."), code="required")
        return name

    def clean_method(self) -> str:
        method: str = self.cleaned_data.get("method") or str(self.fields["method"].initial)
        if method == "authorization" and not self.applications:
            raise forms.ValidationError(
                _("The vendor has not registered an OAuth application yet: choose another method."),
                code="no_application",
            )
        return method

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.clean_federated(data.get("method", ""))
        return data


def kind_choices(provider: Provider) -> list[tuple[str, Any]]:
    """Issuable kinds: the provider's methods first, in its order and words, then the
    others (for any other SCIM client)."""
    own: list[tuple[str, Any]] = [(m.kind, m.name) for m in provider.issuable_methods]
    others = [(kind.value, kind.label) for kind in ISSUABLE_KINDS if not provider.method(kind)]
    if not others:
        return own
    return [(provider.name, own), (gettext("Other SCIM clients"), others)]


class IssueCredentialForm(FederatedFieldsMixin):
    """A new credential of any issuable kind, beside the others (rotation with overlap)."""

    #: Left out, the provider's recommended kind.
    kind = forms.ChoiceField(label=_("Kind"), choices=(), required=False)
    label = forms.CharField(
        label=_("Label"),
        max_length=100,
        required=False,
        help_text=_("Optional, e.g. “2026 rotation”."),
    )
    expires_at = forms.DateTimeField(
        label=_("Expires at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Optional. After this moment the credential stops working."),
    )
    nonce = forms.CharField(widget=forms.HiddenInput)

    field_order = ["kind", "label", "expires_at", *FEDERATED_FIELDS, "nonce"]

    def __init__(self, *args: Any, provider: Provider, audience: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kind_choices(provider)  # type: ignore[attr-defined]
        self.fields["kind"].widget.attrs["data-method-choice"] = ""
        default = provider.default_method
        self.fields["kind"].initial = (
            default.kind if default.issuable else provider.issuable_methods[0].kind
        )
        federated = provider.method("federated") or PROVIDERS["generic"].method("federated")
        self.setup_federated(federated, audience)

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or str(self.fields["kind"].initial)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.clean_federated(data.get("kind", ""))
        return data


class SettingsForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    default_role = forms.ChoiceField(
        label=_("Default role"),
        required=False,
        help_text=_("Role of users that no mapped group gives a role."),
    )
    link_policy = forms.ChoiceField(
        label=_("Link policy"),
        choices=LinkPolicy.choices,
        help_text=_("What happens when a new user arrives."),
    )
    deprovision_policy = forms.ChoiceField(
        label=_("Deprovision policy"),
        choices=DeprovisionPolicy.choices,
        help_text=_("What happens when the identity provider deletes a user."),
    )
    out_of_domain_policy = forms.ChoiceField(
        label=_("Emails outside verified domains"),
        choices=EmailDomainPolicy.choices,
        help_text=_("A user whose email is not on one of this account's verified domains."),
    )
    access_token_lifetime = forms.IntegerField(
        required=False,
        label=_("OAuth access token lifetime (minutes)"),
        min_value=MIN_ACCESS_TOKEN_LIFETIME // 60,
        max_value=MAX_ACCESS_TOKEN_LIFETIME // 60,
        help_text=_(
            "How long an access token from the token endpoint works: 5 minutes to "
            "6 hours. Tokens already issued keep their lifetime."
        ),
    )

    #: The brake on mass removals (docs/portal.md). Left out of a submission, each keeps
    #: its value.
    brake_enabled = forms.TypedChoiceField(
        label=_("Brake on mass removals"),
        required=False,
        choices=[("on", _("On: hold mass removals for review")), ("off", _("Off"))],
        coerce=lambda value: value == "on",
        empty_value=None,
        help_text=_(
            "Past the threshold below, the identity provider's deactivations and "
            "deletions are recorded but wait for an approval before people lose access here."
        ),
    )
    brake_percent = forms.IntegerField(
        label=_("Brake threshold (% of active users)"),
        required=False,
        min_value=1,
        max_value=100,
        help_text=_(
            "Removals within an hour, as a share of the active users, past which they are held."
        ),
    )
    brake_minimum = forms.IntegerField(
        label=_("Brake minimum (people)"),
        required=False,
        min_value=1,
        help_text=_("The fewest removals within an hour that can engage the brake."),
    )

    def __init__(self, *args: Any, roles: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_role"].choices = [("", gettext("No role")), *roles]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        """The access token lifetime in seconds, as the connection keeps it; left empty,
        it (and each brake field) stays as it is."""
        data = super().clean() or {}
        minutes = data.pop("access_token_lifetime", None)
        if minutes is not None:
            data["access_token_lifetime"] = minutes * 60
        for name in ("brake_enabled", "brake_percent", "brake_minimum"):
            if data.get(name) is None:
                data.pop(name, None)
        return data


class RoleMappingForm(forms.Form):
    group = forms.ModelChoiceField(label=_("Group"), queryset=DirectoryGroup.objects.none())
    role = forms.ChoiceField(label=_("Role"))
    precedence = forms.IntegerField(
        label=_("Precedence"),
        min_value=0,
        initial=100,
        help_text=_("Lower wins when a user is in several mapped groups."),
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
        label=_("Also remove all users and groups provisioned through this connection"),
    )


class AddDomainForm(forms.Form):
    domain = forms.CharField(
        max_length=253,
        label=_("Domain"),
        help_text=_("The part of your people's email addresses after the @, e.g. example.com."),
    )


class NotificationEmailsForm(forms.Form):
    """The kinds of email the signed-in person receives about this account."""

    receive = forms.MultipleChoiceField(
        label=_("Email me when"),
        required=False,
        choices=NotificationKind.choices,
        widget=forms.CheckboxSelectMultiple,
    )


class SilentThresholdForm(forms.Form):
    """A connection's silent threshold (empty: the site's default)."""

    silent_after_hours = forms.IntegerField(
        label=_("Silent after (hours)"),
        required=False,
        min_value=1,
        max_value=24 * 90,
        help_text=_(
            "Hours without a request before readers are told it went silent; empty: "
            "the site's default."
        ),
    )
