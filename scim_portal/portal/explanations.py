"""Plain-language explanations of failed SCIM requests, for tenant admins."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..models import RequestLog

BY_SCIM_TYPE = {
    "uniqueness": _(
        "The identity provider tried to create a user or group whose name already exists in "
        "this connection. This is normal when it retries or re-links an existing account; if "
        "it keeps happening for the same person, check for two directory users with the same "
        "username."
    ),
    "invalidFilter": _(
        "The identity provider searched with a filter this service cannot run. Nothing was "
        "changed. If it persists, report the filter (shown in the query) to your vendor."
    ),
    "invalidValue": _(
        "A value in the request was missing or not acceptable — for example a group member who "
        "is not a user of this connection, or a malformed email address. Nothing was changed."
    ),
    "invalidSyntax": _("The request body was not valid JSON. Nothing was changed."),
    "invalidPath": _("A PATCH operation pointed at an attribute path this service cannot change."),
    "noTarget": _("A PATCH operation pointed at a value that does not exist."),
    "mutability": _("The request tried to change something that cannot be changed, such as an id."),
    "tooMany": _("The request asked for more results than allowed in one page."),
}

BY_STATUS = {
    401: _(
        "The credential was missing, wrong, revoked or expired: a token, a username and "
        "password, or an access token from the token endpoint. Enter a current one in your "
        "identity provider's provisioning settings (issue one on the Credentials tab if needed)."
    ),
    403: _("The request was not allowed."),
    404: _(
        "The user or group the identity provider referred to does not exist here (any more). "
        "This is normal after a deletion; the identity provider usually recovers on its own."
    ),
    405: _("The identity provider used an HTTP method this endpoint does not support."),
    409: BY_SCIM_TYPE["uniqueness"],
    412: _(
        "The resource changed since the identity provider last read it (version mismatch). "
        "It will read it again and retry."
    ),
    413: _("The request was too large; the identity provider should send smaller batches."),
    415: _("The request was not sent as JSON."),
    429: _("Too many requests in a short time; the identity provider was asked to slow down."),
    500: _(
        "Applying the change failed inside the application, so nothing was saved. The identity "
        "provider retries automatically; if the error persists, contact support with the time "
        "of this request."
    ),
}


def explain(entry: RequestLog) -> str:
    """What a tenant admin should understand from a logged request, in the active
    language."""
    if entry.status < 400:
        return gettext("The request succeeded.")
    if entry.scim_type in BY_SCIM_TYPE:
        return str(BY_SCIM_TYPE[entry.scim_type])
    if entry.status in BY_STATUS:
        return str(BY_STATUS[entry.status])
    if entry.status >= 500:
        return str(BY_STATUS[500])
    return gettext("The request was refused; the details below say why.")
