"""Examples of the main operations' requests and responses in the OpenAPI document.

The test suite validates each one against the schema it illustrates.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample

SITE = "https://app.example.com"
CONNECTION_ID = "01966a3e-5c2b-7d4e-9f10-2a3b4c5d6e7f"
SCIM_URL = f"{SITE}/scim/v2/{CONNECTION_ID}"

CONNECTION: dict[str, Any] = {
    "id": CONNECTION_ID,
    "account": "acme",
    "name": "Okta production",
    "provider": "okta",
    "status": {
        "key": "waiting",
        "label": "Waiting for the first request",
        "explanation": "Nothing has called the SCIM URL yet: finish the setup in your "
        "identity provider.",
    },
    "scim_url": SCIM_URL,
    "setup_url": SCIM_URL,
    "user_count": 0,
    "group_count": 0,
    "created_at": "2026-03-02T09:30:00Z",
    "last_request_at": None,
    "link_policy": "verified_email",
    "deprovision_policy": "deactivate",
    "default_role": "",
    "oauth_client_id": None,
    "access_token_lifetime": 3600,
    "token_endpoint": f"{SITE}/scim/oauth/token",
    "brake_enabled": True,
    "brake_percent": 10,
    "brake_minimum": 25,
}
ENTRA_ID = "01966a41-0a1b-7c2d-8e3f-405162738495"
ENTRA_CONNECTION: dict[str, Any] = {
    **CONNECTION,
    "id": ENTRA_ID,
    "name": "Entra ID",
    "provider": "entra",
    "scim_url": f"{SITE}/scim/v2/{ENTRA_ID}",
    "setup_url": f"{SITE}/scim/v2/{ENTRA_ID}?aadOptscim062020",
    "status": {
        "key": "healthy",
        "label": "Healthy",
        "explanation": "The identity provider's requests succeed.",
    },
    "user_count": 214,
    "group_count": 12,
    "last_request_at": "2026-03-02T11:02:41Z",
}

CREATE_CONNECTION = [
    OpenApiExample(
        "Okta",
        summary="Create an Okta connection",
        value={"name": "Okta production", "provider": "okta"},
        request_only=True,
    ),
    OpenApiExample(
        "Created",
        summary="The new connection with its bearer token",
        value={**CONNECTION, "token": "scimp_3q2Xn8vTt0bYkR5wLmA9cZ1dEf7GhJ4k"},
        response_only=True,
        status_codes=["201"],
    ),
]
GET_CONNECTION = [
    OpenApiExample("Entra ID", value=ENTRA_CONNECTION, response_only=True),
]


#: A list's example is one item: drf-spectacular puts it in a page.
CONNECTION_LIST = [
    OpenApiExample("An Entra ID connection", value=ENTRA_CONNECTION, response_only=True),
]


ISSUE_CREDENTIAL = [
    OpenApiExample(
        "Client secret",
        summary="An OAuth client secret (Entra ID's client credentials)",
        value={"kind": "client_secret", "label": "Entra", "expires_at": "2028-01-01T00:00:00Z"},
        request_only=True,
    ),
    OpenApiExample(
        "Federated issuer",
        summary="A federated JWT issuer (no secret: its assertions' claims)",
        value={
            "kind": "federated",
            "issuer": "https://login.microsoftonline.com/6b1a5c3e-0000-4000-8000-000000000000/v2.0",
            "subject": "4f6c1a2e-3b5d-4c7e-9f80-112233445566",
            "audience": "api://scim-portal",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Issued client secret",
        value={
            "id": 12,
            "kind": "client_secret",
            "display": "scimcs_AbCdEfGh",
            "prefix": "scimcs_AbCdEfGh",
            "label": "Entra",
            "username": None,
            "issuer": "",
            "subject": "",
            "audience": "",
            "jwks_url": "",
            "created_at": "2026-03-02T09:31:00Z",
            "last_used_at": None,
            "expires_at": "2028-01-01T00:00:00Z",
            "revoked_at": None,
            "state": "active",
            "is_usable": True,
            "client_id": "scimc_7Hk2LmN9pQ",
            "client_secret": "scimcs_AbCdEfGhS3cr3tV4lu3R3turn3dOnc3",
            "token_endpoint": f"{SITE}/scim/oauth/token",
        },
        response_only=True,
        status_codes=["201"],
    ),
]
ISSUE_TOKEN = [
    OpenApiExample(
        "Rotate",
        value={"label": "Okta 2027", "expires_at": "2027-12-31T23:59:59Z"},
        request_only=True,
    ),
    OpenApiExample(
        "Issued",
        value={
            "id": 13,
            "prefix": "scimp_9fKq",
            "label": "Okta 2027",
            "created_at": "2026-03-02T09:32:00Z",
            "last_used_at": None,
            "expires_at": "2027-12-31T23:59:59Z",
            "revoked_at": None,
            "is_usable": True,
            "token": "scimp_9fKqW3eRt5yUi7oP1aSd3fGh5jKl7zXc",
        },
        response_only=True,
        status_codes=["201"],
    ),
]
EVENTS = [
    OpenApiExample(
        "Two events",
        value={
            "events": [
                {
                    "number": 41,
                    "type": "user.created",
                    "resource_type": "User",
                    "resource_id": "01966b02-1c2d-7e3f-8a4b-5c6d7e8f9012",
                    "changes": {"userName": {"old": None, "new": "ada@acme.com"}},
                    "actor": {"type": "token", "prefix": "scimp_3q2X"},
                    "created_at": "2026-03-02T11:02:41Z",
                },
                {
                    "number": 42,
                    "type": "user.deactivated",
                    "resource_type": "User",
                    "resource_id": "01966b02-1c2d-7e3f-8a4b-5c6d7e8f9013",
                    "changes": {"active": {"old": True, "new": False}},
                    "actor": {"type": "token", "prefix": "scimp_3q2X"},
                    "created_at": "2026-03-02T11:05:09Z",
                },
            ],
            "next_after": 42,
            "has_more": False,
        },
        response_only=True,
    )
]
DOMAIN: dict[str, Any] = {
    "id": 7,
    "domain": "acme.com",
    "verified": False,
    "verification_method": "",
    "verified_at": None,
    "record_name": "_scim-portal-verification.acme.com",
    "record_value": "scim-portal-verification=Zk3pQ8rT1vW5xY7a",
    "last_checked_at": None,
    "last_check_error": "",
    "created_at": "2026-03-02T09:40:00Z",
}
ADD_DOMAIN = [
    OpenApiExample("acme.com", value={"domain": "acme.com"}, request_only=True),
    OpenApiExample("Added", value=DOMAIN, response_only=True, status_codes=["201"]),
]
VERIFY_DOMAIN = [
    OpenApiExample(
        "Not yet",
        value={
            "domain": {
                **DOMAIN,
                "last_checked_at": "2026-03-02T09:45:00Z",
                "last_check_error": "No TXT record was found at "
                "_scim-portal-verification.acme.com.",
            },
            "verified": False,
            "reason": "No TXT record was found at _scim-portal-verification.acme.com.",
        },
        response_only=True,
    )
]
ADD_WEBHOOK_ENDPOINT = [
    OpenApiExample(
        "Every account's events",
        value={"url": "https://hooks.example.com/scim", "event_types": ["user.created",
               "user.deactivated"], "description": "User lifecycle"},
        request_only=True,
    ),
]  # fmt: skip
