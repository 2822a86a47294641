"""Emails on any syntactically valid domain (INTEROP.md, item 25): special-use and
reserved names (``corp.local``, ``*.test``) and single-label domains, as directories
synced from on-premises send them; what is not an address stays 400 invalidValue."""

import email_validator
import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import EmailStr, TypeAdapter, ValidationError

from scim_portal.models import DirectoryUser
from scim_portal.scim.schema import email_address

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
WORK_EMAIL = 'emails[type eq "work"].value'

#: (what the IdP sends, what is stored and returned: the domain lower-cased and
#: IDNA-decoded, as for every other domain).
ACCEPTED = [
    ("jdoe@corp.local", "jdoe@corp.local"),
    ("JDoe@CORP.LOCAL", "JDoe@corp.local"),
    ("jdoe@contoso.test", "jdoe@contoso.test"),
    ("a@b.test", "a@b.test"),
    ("x@example.invalid", "x@example.invalid"),
    ("svc@build.localhost", "svc@build.localhost"),
    ("ops@eu.corp.internal", "ops@eu.corp.internal"),
    ("jdoe@corp", "jdoe@corp"),
    ("anna@xn--bcher-kva.local", "anna@bücher.local"),
]
#: Not addresses: no @-sign, nothing before it, a space, empty or invalid labels, a
#: line break, too long (a label over 63 characters, a domain over 253, an address
#: over 254).
GARBAGE = [
    "jdoe.corp.local",
    "@corp.local",
    "j doe@corp.local",
    "jdoe@",
    "jdoe@corp..local",
    "jdoe@.corp.local",
    "jdoe@-corp.local",
    "jdoe@corp_01.local",
    "jdoe@corp.local.",
    "jdoe@corp.local\n",
    f"{'j' * 64}@{'c' * 60}.{'c' * 60}.{'c' * 60}.{'c' * 60}.local",
    f"jdoe@{'c' * 64}.local",
    f"jdoe@{'c.' * 124}local",
]


def _work_email(value):
    return [{"value": value, "type": "work", "primary": True}]


def _found(scim, query):
    return [user["id"] for user in scim.get("/Users", filter=query).json()["Resources"]]


@pytest.mark.django_db
@pytest.mark.parametrize(("sent", "stored"), ACCEPTED)
def test_an_email_on_a_special_use_or_single_label_domain_is_created_and_found(scim, sent, stored):
    response = scim.post(
        "/Users", {"schemas": [USER], "userName": "jdoe", "emails": _work_email(sent)}
    )
    assert response.status_code == 201, response.content
    user = response.json()
    assert user["emails"] == _work_email(stored)
    for query in ({}, {"attributes": "emails"}):  # the stored document, or re-read by the models
        assert scim.get(f"/Users/{user['id']}", **query).json()["emails"] == _work_email(stored)
    for query in (f'emails.value eq "{stored}"', f'{WORK_EMAIL} eq "{stored.upper()}"'):
        assert _found(scim, query) == [user["id"]]
    assert DirectoryUser.objects.get(pk=user["id"]).email == stored
    # ... and the host user the adapter creates has it.
    assert get_user_model().objects.filter(email=stored).count() == 1


@pytest.mark.django_db
def test_put_patch_and_bulk_accept_them_too(scim):
    user = scim.create_user("jdoe", emails=_work_email("jdoe@contoso.com"))
    path = f"/Users/{user['id']}"

    response = scim.put(
        path, {"schemas": [USER], "userName": "jdoe", "emails": _work_email("jdoe@corp.local")}
    )
    assert response.status_code == 200, response.content
    assert response.json()["emails"] == _work_email("jdoe@corp.local")

    response = scim.patch_ops(
        path, {"op": "replace", "path": WORK_EMAIL, "value": "jdoe@Contoso.TEST"}
    )
    assert response.status_code == 200, response.content
    assert scim.get(path).json()["emails"] == _work_email("jdoe@contoso.test")
    assert _found(scim, 'emails.value eq "jdoe@contoso.test"') == [user["id"]]

    response = scim.patch_ops(
        path, {"op": "add", "path": "emails", "value": [{"value": "j@home.arpa", "type": "home"}]}
    )
    assert response.status_code == 200, response.content
    assert [e["value"] for e in response.json()["emails"]] == ["jdoe@contoso.test", "j@home.arpa"]

    operations = [
        {"method": "POST", "path": "/Users", "bulkId": "ada",
         "data": {"userName": "ada", "emails": _work_email("ada@corp.local")}},
        {"method": "PATCH", "path": "/Users/bulkId:ada",
         "data": {"Operations": [{"op": "replace", "path": WORK_EMAIL, "value": "ada@x.invalid"}]}},
    ]  # fmt: skip
    response = scim.post("/Bulk", {"schemas": [BULK], "Operations": operations})
    results = response.json()["Operations"]
    assert [result["status"] for result in results] == ["201", "200"], results
    assert _found(scim, 'emails.value eq "ada@x.invalid"') == [
        results[0]["location"].rsplit("/", 1)[1]
    ]


def _assert_invalid_value(body):
    assert body["schemas"] == [ERROR] and body["status"] == "400", body
    assert body["scimType"] == "invalidValue" and "email" in body["detail"], body


@pytest.mark.django_db
@pytest.mark.parametrize("value", GARBAGE)
def test_what_is_not_an_address_is_400_invalid_value_on_every_write(scim, value):
    response = scim.post(
        "/Users", {"schemas": [USER], "userName": "new", "emails": _work_email(value)}
    )
    assert response.status_code == 400, response.content
    _assert_invalid_value(response.json())
    assert not DirectoryUser.objects.filter(user_name="new").exists()

    user = scim.create_user("kept", emails=_work_email("kept@corp.local"))
    path = f"/Users/{user['id']}"
    replaced = scim.put(path, {"schemas": [USER], "userName": "kept", "emails": _work_email(value)})
    patched = scim.patch_ops(path, {"op": "replace", "path": WORK_EMAIL, "value": value})
    for response in (replaced, patched):
        assert response.status_code == 400, response.content
        _assert_invalid_value(response.json())
    after = scim.get(path).json()
    assert after["meta"]["version"] == user["meta"]["version"]
    assert after["emails"] == _work_email("kept@corp.local")

    operation = {"method": "POST", "path": "/Users", "bulkId": "b",
                 "data": {"userName": "bulk", "emails": _work_email(value)}}  # fmt: skip
    result = scim.post("/Bulk", {"schemas": [BULK], "Operations": [operation]}).json()
    assert result["Operations"][0]["status"] == "400"
    _assert_invalid_value(result["Operations"][0]["response"])


@pytest.mark.django_db
def test_the_host_s_own_email_validation_is_neither_changed_nor_followed(scim, monkeypatch):
    """email-validator's settings are process-wide: SCIM neither changes them (the
    host's forms still refuse ``corp.local``) nor follows those the host changed."""
    monkeypatch.setattr(email_validator, "ALLOW_QUOTED_LOCAL", True)
    scim.create_user("jdoe", emails=_work_email("jdoe@corp.local"))
    with pytest.raises(ValidationError, match="special-use or reserved name"):
        TypeAdapter(EmailStr).validate_python("jdoe@corp.local")
    assert TypeAdapter(EmailStr).validate_python('"j doe"@example.com')  # the host's choice
    quoted = {"schemas": [USER], "userName": "q", "emails": _work_email('"j doe"@corp.local')}
    assert scim.post("/Users", quoted).status_code == 400


#: Why EmailStr refuses what is now accepted: only these (the domain's kind), never
#: the address's syntax.
RELAXED = (
    "special-use or reserved name",
    "It should have a period",
    "not within a valid top-level domain",
)
_domains = st.sampled_from(
    ["corp.local", "CORP.LOCAL", "a.test", "x.invalid", "localhost", "h.onion", "corp",
     "Example.COM", "bücher.de", "xn--bcher-kva.local", "-a.local", "a..test", "a-.test",
     "a.local.", "b.c1", f"{'c' * 64}.local"]
)  # fmt: skip
_addresses = st.one_of(
    st.emails(),
    st.builds("{}@{}".format, st.emails().map(lambda e: e.split("@")[0]), _domains),
    st.text(st.sampled_from('aZé.-_+@ <>"\n\t\uff4c\u3002'), max_size=24),
    st.text(max_size=30),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_addresses)
@example(" Jane.Doe@Example.COM ")
@example("Jane Doe <jane@example.com>")
@example("POSTMASTER@example.com")
@example("Jan\u0065\u0301@example.com")  # decomposed: stored composed (NFC)
@example("jane@example.com\n")
@example('"j doe"@example.com')
@example("jane@[192.0.2.1]")
@example("jane@xn--bcher-kva.de")
def test_addresses_are_normalised_as_email_str_normalised_them(value):
    """What ``EmailStr`` accepted is accepted and stored exactly as before; what it
    refused stays refused unless only its domain's kind was the reason."""
    try:
        before, refusal = TypeAdapter(EmailStr).validate_python(value), ""
    except ValidationError as exc:
        before, refusal = None, str(exc)
    try:
        after = email_address(value)
    except ValueError:  # pydantic's value_error
        after = None
    if before is not None:
        assert after == before
    elif after is not None:
        assert any(reason in refusal for reason in RELAXED), (value, refusal, after)
