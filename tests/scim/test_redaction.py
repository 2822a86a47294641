import json

import pytest

from scim_portal.scim.redaction import (
    REDACTED,
    Scrubber,
    header_secrets,
    redact_body,
    redact_bulk,
    redact_names,
    redact_patch,
    redact_query,
    redact_resource,
    secret_attributes,
    without_secrets,
)

from .conftest import BADGE

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch_body(*operations):
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


# The schema's secrets


def test_the_core_user_password_is_the_only_secret_by_default():
    assert secret_attributes("User").paths == {("password",)}
    assert secret_attributes("Group").paths == set()


def test_declared_extensions_add_their_write_only_attributes_and_sub_attributes(
    badge_extension,
):
    urn = badge_extension.lower()
    assert secret_attributes("User").paths == {
        ("password",),
        (urn, "pin"),
        (urn, "locker", "combination"),
    }
    assert secret_attributes(None).paths == secret_attributes("User").paths


def test_the_secrets_follow_the_settings(settings):
    settings.SCIM_PORTAL = {
        **settings.SCIM_PORTAL,
        "USER_EXTENSIONS": ["scim2_models.EnterpriseUser", "tests.testapp.scim.BadgeExtension"],
    }
    assert len(secret_attributes("User").paths) == 3
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "USER_EXTENSIONS": []}
    assert secret_attributes("User").paths == {("password",)}


# Resource bodies


@pytest.mark.parametrize("key", ["password", "Password", "PASSWORD", f"{CORE}:password"])
def test_resource_password_in_any_case_or_qualified(key):
    found = set()
    body = {"userName": "ada@example.com", key: "s3cret-value"}
    assert redact_resource(body, "User", found) == {"userName": "ada@example.com", key: REDACTED}
    assert found == {"s3cret-value"}


def test_resource_extension_secrets_in_the_extension_object_nested_or_qualified(
    badge_extension,
):
    found = set()
    body = {
        "userName": "ada@example.com",
        badge_extension: {"badgeNumber": "B-1", "pin": "4711-4711", "locker": {
            "number": "12", "combination": "left-right-left"}},
        f"{badge_extension}:pin": 99887766,
        f"{badge_extension.upper()}:locker.combination": "up-down-up",
    }  # fmt: skip
    assert redact_resource(body, "User", found) == {
        "userName": "ada@example.com",
        badge_extension: {
            "badgeNumber": "B-1",
            "pin": REDACTED,
            "locker": {"number": "12", "combination": REDACTED},
        },
        f"{badge_extension}:pin": REDACTED,
        f"{badge_extension.upper()}:locker.combination": REDACTED,
    }
    assert found == {"4711-4711", "left-right-left", "99887766", "up-down-up"}


def test_a_secret_holding_an_object_is_redacted_whole_with_every_value_found():
    found = set()
    assert redact_resource({"password": {"a": ["one1", 22222]}}, "User", found) == {
        "password": REDACTED
    }
    assert found == {"one1", "22222"}


def test_groups_have_no_schema_secrets_and_odd_bodies_pass_through():
    body = {"displayName": "Eng", "password": "x"}
    assert redact_resource(body, "Group") == body
    for odd in (None, "text", 3, [1, "two"]):
        assert redact_resource(odd, "User") == odd


# PATCH


@pytest.mark.parametrize(
    "path",
    [
        "password",
        "PASSWORD",
        f"{CORE}:password",
        f"{CORE.upper()}:Password",
        f"{BADGE}:pin",
        f"{BADGE}:locker.combination",
        "urn:example:unknown:extension:apiToken",  # not in the schema: named like one
    ],
)
def test_patch_by_path(badge_extension, path):
    found = set()
    body = patch_body({"op": "replace", "path": path, "value": "s3cret-value"})
    [operation] = redact_patch(body, "User", found)["Operations"]
    assert operation == {"op": "replace", "path": path, "value": REDACTED}
    assert found == {"s3cret-value"}


def test_patch_at_a_parent_path_redacts_the_secret_inside_the_value(badge_extension):
    body = patch_body(
        {"op": "add", "path": badge_extension, "value": {"pin": "4711-4711", "floor": 3}},
        {"op": "add", "path": f"{badge_extension}:locker", "value": {"combination": "l-r-l"}},
        {"op": "replace", "path": CORE, "value": {"password": "pw-pw-pw"}},
    )
    found = set()
    operations = redact_patch(body, "User", found)["Operations"]
    assert [operation["value"] for operation in operations] == [
        {"pin": REDACTED, "floor": 3},
        {"combination": REDACTED},
        {"password": REDACTED},
    ]
    assert found == {"4711-4711", "l-r-l", "pw-pw-pw"}


def test_patch_by_value_object_as_entra_sends_it(badge_extension):
    body = {
        "schemas": [PATCH_OP],
        "Operations": [{"Op": "Replace", "Value": {
            "password": "pw-pw-pw",
            f"{badge_extension}:pin": "4711-4711",
            badge_extension: {"pin": "1234-5678", "badgeNumber": "B-2"},
            "name.givenName": "Ada",
        }}],
    }  # fmt: skip
    found = set()
    [operation] = redact_patch(body, "User", found)["Operations"]
    assert operation["Value"] == {
        "password": REDACTED,
        f"{badge_extension}:pin": REDACTED,
        badge_extension: {"pin": REDACTED, "badgeNumber": "B-2"},
        "name.givenName": "Ada",
    }
    assert found == {"pw-pw-pw", "4711-4711", "1234-5678"}


def test_patch_value_filters_are_not_secrets():
    body = patch_body(
        {"op": "replace", "path": 'emails[type eq "password"].value', "value": "a@example.com"},
        {"op": "remove", "path": 'emails[value eq "token]x"]'},
        {"op": "replace", "path": "title", "value": "Engineer"},
    )
    assert redact_patch(body, "User") == body


def test_patch_bodies_that_are_not_patch_ops_pass_through():
    for odd in (None, [], {"Operations": "x"}, {"Operations": [None, 3, {"path": 4}]}):
        assert redact_patch(odd, "User") == odd


# Bulk


def test_bulk_redacts_each_operation_for_the_resource_type_of_its_path(badge_extension):
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a",
             "data": {"userName": "a@example.com", "password": "pw-one-1"}},
            {"method": "PUT", "path": "/Users/1",
             "data": {"userName": "a@example.com", badge_extension: {"pin": "pin-two-2"}}},
            {"method": "PATCH", "path": "/Users/1", "data": patch_body(
                {"op": "replace", "path": "password", "value": "pw-three-3"})},
            {"method": "POST", "path": "/Groups", "bulkId": "g",
             "data": {"displayName": "Eng", "password": "not-a-group-attribute"}},
            {"method": "DELETE", "path": "/Users/2"},
        ],
    }  # fmt: skip
    found = set()
    operations = redact_bulk(body, found)["Operations"]
    assert operations[0]["data"]["password"] == REDACTED
    assert operations[1]["data"][badge_extension] == {"pin": REDACTED}
    assert operations[2]["data"]["Operations"][0]["value"] == REDACTED
    assert operations[3] == body["Operations"][3]  # the schema says nothing; names do:
    assert redact_names(operations[3])["data"]["password"] == REDACTED
    assert operations[4] == body["Operations"][4]
    assert found == {"pw-one-1", "pin-two-2", "pw-three-3"}


def test_a_request_body_is_redacted_for_its_endpoint(badge_extension):
    resource = {"userName": "a@example.com", badge_extension: {"pin": "pin-pin-1"}}
    patch = patch_body({"op": "replace", "path": "password", "value": "pw-pw-pw"})
    assert redact_body(resource, "/Users")[badge_extension]["pin"] == REDACTED
    assert redact_body(patch, "/Users/1")["Operations"][0]["value"] == REDACTED
    # an endpoint that names no resource type: the secrets of both
    assert redact_body(resource, "/Nope")[badge_extension]["pin"] == REDACTED
    bulk = {"Operations": [{"method": "PATCH", "path": "/Users/1", "data": patch}]}
    assert redact_body(bulk, "/Bulk")["Operations"][0]["data"]["Operations"][0]["value"] == (
        REDACTED
    )
    # names like a credential, in unknown attributes, whatever the endpoint
    assert redact_body({"x": {"clientSecret": "c"}}, "/Groups") == {"x": {"clientSecret": REDACTED}}


def test_deeply_nested_bodies_are_cut_not_walked_to_the_end():
    body = value = {}
    for _ in range(5000):
        value["a"] = {}
        value = value["a"]
    text = json.dumps(redact_body(body, "/Users"))
    assert REDACTED in text and len(text) < 500


# Stored documents


def test_without_secrets_drops_them_from_a_document(badge_extension):
    document = {
        "userName": "a@example.com",
        "password": "pw",
        badge_extension: {"badgeNumber": "B", "pin": "1", "locker": {"number": "3",
                                                                    "combination": "c"}},
        "emails": [{"value": "a@example.com"}],
    }  # fmt: skip
    assert without_secrets(document, "User") == {
        "userName": "a@example.com",
        badge_extension: {"badgeNumber": "B", "locker": {"number": "3"}},
        "emails": [{"value": "a@example.com"}],
    }


# Query strings and headers


def test_query_parameters_named_like_credentials_are_redacted():
    found = set()
    query = (
        "filter=userName+eq+%22a%22&access_token=tok%2Bone&API_KEY=k2&apikey=k3&pwd=p4"
        "&Password=p5&x-auth=a6&session=s7&signature=s8&sig=s9&count=10&flag"
    )
    assert redact_query(query, found) == (
        "filter=userName+eq+%22a%22&access_token=[redacted]&API_KEY=[redacted]"
        "&apikey=[redacted]&pwd=[redacted]&Password=[redacted]&x-auth=[redacted]"
        "&session=[redacted]&signature=[redacted]&sig=[redacted]&count=10&flag"
    )
    assert {"tok+one", "tok%2Bone", "k2", "p5", "s9"} <= found
    assert redact_query("") == ""


def test_credential_headers_give_their_values():
    found = header_secrets({
        "HTTP_AUTHORIZATION": "Bearer tok-tok-tok",
        "HTTP_COOKIE": "sessionid=cookie-value; theme=dark",
        "HTTP_X_API_KEY": "key-key-key",
        "HTTP_USER_AGENT": "Okta SCIM Client",
        "REMOTE_ADDR": "203.0.113.9",
    })  # fmt: skip
    assert {"Bearer tok-tok-tok", "tok-tok-tok", "cookie-value", "key-key-key"} <= found
    assert not {"Okta SCIM Client", "203.0.113.9"} & found


# Free text


def test_scrubber_replaces_every_form_of_a_value():
    scrub = Scrubber({'se"cret/ü+1 x', "abc", ""})
    forms = ['se"cret/ü+1 x', 'se\\"cret/\\u00fc+1 x', "se%22cret%2F%C3%BC%2B1%20x",
             "se%22cret%2F%C3%BC%2B1+x"]  # fmt: skip
    for form in forms:
        assert scrub(f"before {form} after") == f"before {REDACTED} after"
    assert scrub("abc is too short to look for") == "abc is too short to look for"


def test_scrubber_fit_scrubs_before_it_cuts():
    scrub = Scrubber({"0123456789abcdef"})
    text = "x" * 10 + "0123456789abcdef" + "y" * 10
    assert scrub.fit(text, 15, "…") == "x" * 10 + "[red…"
    assert scrub.fit("short", 15) == "short"
