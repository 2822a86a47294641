"""The OpenAPI 3 document of the management API, written for the vendor's backend
developer who generates a client from it.

drf-spectacular builds it from the views' declarations (:func:`extend_schema`), with
drf-spectacular's own defaults whatever the host's ``SPECTACULAR_SETTINGS`` say; then
:func:`build_schema` makes it honest about where the API lives: a ``servers`` entry and
full paths, wherever the host mounted ``scim_portal.urls``.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.settings import SPECTACULAR_DEFAULTS, patched_settings
from drf_spectacular.utils import extend_schema as _extend_schema

from ..conf import app_settings

TITLE = "django-scim-portal management API"
DESCRIPTION = (
    "Create, list and delete the SCIM connections of your customers' accounts, issue and "
    "revoke their credentials, read their directories, follow provisioning events, and "
    "manage the webhook endpoints events are delivered to.\n\n"
    "Authenticate your backend with an environment API key (`Authorization: Bearer "
    "scimpenv_…`, issued in Django admin); people signed in to the site may call the "
    "account operations their provisioning permissions allow, with their session cookie "
    'and CSRF token. Errors are JSON: `{"detail": "…"}`, or a field\'s messages under its '
    "name (400)."
)

#: Groups of operations, in the order the reference lists them.
TAGS: dict[str, str] = {
    "Connections": "A connection is one identity provider provisioning one of your "
    "customers' accounts. Create one, hand its `setup_url` and token to the customer's "
    "identity provider admin; list, inspect and delete them.",
    "Credentials": "What an identity provider authenticates with: bearer tokens, HTTP "
    "Basic, OAuth client secrets, federated JWT issuers. A secret is returned once, in the "
    "response that issues it.",
    "Directory": "The users and groups an identity provider has provisioned through a "
    "connection, as it sent them.",
    "Events": "Every change, numbered in commit order: poll them to follow provisioning "
    "(or have them pushed to a webhook endpoint).",
    "Removals": "The brake on mass removals: removals held for review, their dry run, "
    "approving or rejecting them, and restoring deleted users.",
    "Drift": "Where the application's memberships and a connection's directory disagree, "
    "with a fix per row.",
    "Domains": "An account's email domains and their DNS verification: people on a "
    "verified domain can be claimed by the account's connections.",
    "Webhook endpoints": "Where provisioning events are delivered (Standard Webhooks or "
    "Security Event Tokens) and their delivery log. Environment keys only.",
}

#: What each path parameter names.
PATH_PARAMETERS: dict[str, str] = {
    "account": 'The account: the value of its lookup field (`SCIM_PORTAL["ACCOUNT_LOOKUP_'
    'FIELD"]` of the application, usually a slug).',
    "connection_id": "The connection's id, as returned when it was created.",
    "credential_id": "The credential's id.",
    "token_id": "The bearer token's id (a credential id).",
    "user_id": "The deleted directory user's SCIM id.",
    "domain_id": "The domain's id.",
    "endpoint_id": "The webhook endpoint's id.",
    "action": "The fix to apply.",
}

#: drf-spectacular's scheme for Django sessions has no description of its own.
SESSION_DESCRIPTION = (
    "The Django session cookie of a person signed in to the site. Unsafe methods (POST, "
    "PATCH, DELETE) also need the CSRF token in the `X-CSRFToken` header. The person needs "
    "the account's read, create or delete provisioning permission, and never reaches the "
    "operations across accounts or the webhook endpoints."
)

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "What went wrong, in words."}},
    "required": ["detail"],
}
FIELD_ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The messages of each field (or query parameter) refused, under its name; "
    "`non_field_errors` for the request as a whole.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}

#: Responses every operation may give, added where the operation does not say more.
RESPONSES: dict[str, str] = {
    "200": "Done.",
    "201": "Created.",
    "202": "Accepted: it happens in the background.",
    "400": "The request body or a query parameter is not valid; nothing changed.",
    "401": "No credentials, or an unknown or revoked environment key.",
    "403": "Authenticated, but not allowed: a person without the provisioning permission "
    "this needs on the account, a person calling an operation for environment keys only, "
    "or a session call without its CSRF token.",
    "404": "No such object, or it belongs to another account or connection.",
}


_building = threading.Lock()


class ApiSchema(AutoSchema):
    """drf-spectacular's ``AutoSchema`` describing only what the views declare: tags from
    their ``openapi_tag``, descriptions from :func:`extend_schema` (a view's docstring is
    for whoever maintains it, never for the reader of the reference)."""

    def get_description(self) -> str:  # type: ignore[override]
        return ""

    def get_tags(self) -> list[str]:
        tag = getattr(self.view, "openapi_tag", "")
        return [tag] if tag else []


def extend_schema(**kwargs: Any) -> Any:
    """drf-spectacular's ``extend_schema``, built on :class:`ApiSchema` whatever the host's
    ``DEFAULT_SCHEMA_CLASS``, so documenting this API needs no host setting."""

    def decorator(function: Any) -> Any:
        function.schema = ApiSchema
        return _extend_schema(**kwargs)(function)

    return decorator


def _generation_settings() -> dict[str, Any]:
    """drf-spectacular's defaults: a host's ``SPECTACULAR_SETTINGS`` (path prefixes, split
    components, hooks…) describe the host's API, never this one."""
    return {
        key: value
        for key, value in SPECTACULAR_DEFAULTS.items()
        if not key.startswith("SERVE_") and key != "DEFAULT_GENERATOR_CLASS"
    }


def api_root() -> str:
    """The path of the API's root, wherever the host mounted ``scim_portal.urls``
    (``/api/v1/``, ``/saas/api/v1/``…)."""
    return reverse("scim_portal:api:schema").removesuffix("schema/")


def server_url(request: HttpRequest | None) -> str:
    """``SCIM_PORTAL["PUBLIC_URL"]``, else ``/``: relative to where the document is served.

    Never the request's Host (or ``X-Forwarded-Host``): the document is public and may be
    cached, and a forged host in a cached copy would send generated clients, and the keys
    they carry, elsewhere."""
    if app_settings.PUBLIC_URL:
        return str(app_settings.PUBLIC_URL).rstrip("/")
    return "/"


def build_schema(request: HttpRequest | None = None) -> dict[str, Any]:
    """The OpenAPI 3 document of the management API (only its own operations): its
    paths are full paths from the site's root, to be joined to ``servers[0].url``."""
    from . import urls

    patterns = [
        p for p in urls.urlpatterns if getattr(p, "name", "") not in {"schema", "docs", "not-found"}
    ]
    # Patched settings are process-wide while the document is built (as in drf-spectacular's
    # own SpectacularAPIView(custom_settings=...)): two builds at once would each restore
    # the other's patch, leaving the host's settings lost.
    with _building, patched_settings(_generation_settings()):
        schema: dict[str, Any] = SchemaGenerator(patterns=patterns).get_schema(
            request=None, public=True
        )
    root = api_root().rstrip("/")
    schema["paths"] = {root + path: item for path, item in schema["paths"].items()}
    schema["info"] = {"title": TITLE, "version": "1", "description": DESCRIPTION}
    schema["servers"] = [
        {"url": server_url(request), "description": "This site (paths include where the "
         "application mounted the API)."}
    ]  # fmt: skip
    schema["tags"] = [{"name": name, "description": text} for name, text in TAGS.items()]
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(
        copy.deepcopy({"Error": ERROR_SCHEMA, "FieldErrors": FIELD_ERRORS_SCHEMA})
    )
    session = components.get("securitySchemes", {}).get("cookieAuth")
    if session is not None:
        session["description"] = SESSION_DESCRIPTION
    for item in schema["paths"].values():
        for operation in item.values():
            _complete(operation)
    return schema


def _complete(operation: dict[str, Any]) -> None:
    """Describe the path parameters and the error responses of one operation."""
    parameters = operation.get("parameters", [])
    for parameter in parameters:
        if parameter["in"] == "path" and not parameter.get("description"):
            parameter["description"] = PATH_PARAMETERS[parameter["name"]]
    responses = operation.setdefault("responses", {})
    codes = []
    if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
        codes.append("400")
    if operation.get("security"):
        codes += ["401", "403"]
    if any(p["in"] == "path" for p in parameters):
        codes.append("404")
    for code in codes:
        responses.setdefault(code, {"description": RESPONSES[code]})
    for code, response in responses.items():
        if not response.get("description"):
            response["description"] = RESPONSES[code]
        if int(code) >= 400 and "content" not in response:
            name = "FieldErrors" if code == "400" else "Error"
            response["content"] = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
            }
