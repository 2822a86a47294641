"""Plain-language explanations of failed SCIM requests, for tenant admins."""

from __future__ import annotations

from ..models import RequestLog

BY_SCIM_TYPE = {
    "uniqueness": (
        "The identity provider tried to create a user or group whose name already exists in "
        "this connection. This is normal when it retries or re-links an existing account; if "
        "it keeps happening for the same person, check for two directory users with the same "
        "username."
    ),
    "invalidFilter": (
        "The identity provider searched with a filter this service cannot run. Nothing was "
        "changed. If it persists, report the filter (shown in the query) to your vendor."
    ),
    "invalidValue": (
        "A value in the request was missing or not acceptable — for example a group member who "
        "is not a user of this connection, or a malformed email address. Nothing was changed."
    ),
    "invalidSyntax": "The request body was not valid JSON. Nothing was changed.",
    "invalidPath": "A PATCH operation pointed at an attribute path this service cannot change.",
    "noTarget": "A PATCH operation pointed at a value that does not exist.",
    "mutability": "The request tried to change something that cannot be changed, such as an id.",
    "tooMany": "The request asked for more results than allowed in one page.",
}

BY_STATUS = {
    401: (
        "The credential was missing, wrong, revoked or expired: a token, a username and "
        "password, or an access token from the token endpoint. Enter a current one in your "
        "identity provider's provisioning settings (issue one on the Credentials tab if needed)."
    ),
    403: "The request was not allowed.",
    404: (
        "The user or group the identity provider referred to does not exist here (any more). "
        "This is normal after a deletion; the identity provider usually recovers on its own."
    ),
    405: "The identity provider used an HTTP method this endpoint does not support.",
    409: BY_SCIM_TYPE["uniqueness"],
    412: (
        "The resource changed since the identity provider last read it (version mismatch). "
        "It will read it again and retry."
    ),
    413: "The request was too large; the identity provider should send smaller batches.",
    415: "The request was not sent as JSON.",
    429: "Too many requests in a short time; the identity provider was asked to slow down.",
    500: (
        "Applying the change failed inside the application, so nothing was saved. The identity "
        "provider retries automatically; if the error persists, contact support with the time "
        "of this request."
    ),
}


def explain(entry: RequestLog) -> str:
    """What a tenant admin should understand from a logged request."""
    if entry.status < 400:
        return "The request succeeded."
    if entry.scim_type in BY_SCIM_TYPE:
        return BY_SCIM_TYPE[entry.scim_type]
    if entry.status in BY_STATUS:
        return BY_STATUS[entry.status]
    if entry.status >= 500:
        return BY_STATUS[500]
    return "The request was refused; the details below say why."
