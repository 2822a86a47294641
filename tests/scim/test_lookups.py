"""Property: a lookup by a unique name (``userName eq``, a group's ``displayName eq``),
which reads one row through the unique index, and a lookup by an item value (``emails[type
eq "work"].value eq``), which reads through the value rows' index, answer what the general
filter translation selects — for any spelling of the attribute, any case of the value,
escapes, paging and attribute selection."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scim_portal.models import DirectoryGroup, DirectoryUser
from scim_portal.scim.resources import GROUPS, USERS

pytestmark = pytest.mark.django_db

USER_NAMES = ["ada@example.com", "Grace.Hopper@Example.com", 'quote"d@example.com',
              "back\\slash@example.com", "ÉMILE@example.com", "straße@example.com"]  # fmt: skip
GROUP_NAMES = ["Engineering", "ENG ops", "Ünits", 'say "hi"']
USER_CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_CORE = "urn:ietf:params:scim:schemas:core:2.0:Group"
# Refused with a 400: NUL (the errors test below) and lone surrogates (test_surrogates.py).
NO_NUL = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))


@pytest.fixture
def directory(scim):
    users = [scim.create_user(name) for name in USER_NAMES]
    for index, name in enumerate(GROUP_NAMES):
        scim.create_group(name, [users[index]["id"], users[-1]["id"]])
    return scim


def respell(name: str, data) -> str:
    """The name with each letter's case drawn at random."""
    flips = data.draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(name, flips, strict=True))


def general(kind, connection, text):
    """What the general translation selects, in id order."""
    rows = kind.queryset(connection).filter(kind.query_builder().build(text)).order_by("id")
    return [str(pk) for pk in rows.values_list("pk", flat=True)]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_unique_name_lookup_answers_what_the_general_filter_selects(directory, data):
    kind, endpoint, names, attribute, core = data.draw(
        st.sampled_from(
            [
                (USERS, "/Users", USER_NAMES, "userName", USER_CORE),
                (GROUPS, "/Groups", GROUP_NAMES, "displayName", GROUP_CORE),
            ]
        )
    )
    wanted = data.draw(st.sampled_from(names) | st.text(NO_NUL, max_size=12))
    value = respell(wanted, data) if data.draw(st.booleans()) else wanted
    spelled = data.draw(st.sampled_from([attribute, attribute.upper(), f"{core}:{attribute}"]))
    text = f"{spelled} eq {json.dumps(value)}"
    start = data.draw(st.sampled_from([None, 1, 2]))
    count = data.draw(st.sampled_from([None, 0, 1, 10]))
    excluded = data.draw(st.sampled_from([None, "groups", "members", "emails"]))
    given_params = {"startIndex": start, "count": count, "excludedAttributes": excluded}
    params = {"filter": text, **{k: v for k, v in given_params.items() if v is not None}}
    response = directory.get(endpoint, **params)
    assert response.status_code == 200, response.content
    body = response.json()
    expected = general(kind, directory.connection, text)
    assert body["totalResults"] == len(expected) <= 1
    shown = expected if (start or 1) == 1 and count != 0 else []
    assert [resource["id"] for resource in body["Resources"]] == shown
    for resource in body["Resources"]:
        # The same document as a GET by id with the same attribute selection.
        again = directory.get(f"{endpoint}/{resource['id']}", **(
            {"excludedAttributes": excluded} if excluded else {})).json()  # fmt: skip
        assert resource == again


def test_the_lookup_keeps_the_general_translation_s_errors(directory):
    for text in ('userName eq "unterminated', "userName eq true", 'nosuch eq "x"',
                 'userName eq "a\\u0000b"'):  # fmt: skip
        response = directory.get("/Users", filter=text)
        assert response.status_code == 400, text
        assert response.json()["scimType"] == "invalidFilter"


def test_the_lookup_reads_no_other_connection(directory, other_scim):
    other_scim.create_user("ada@example.com")
    body = directory.get("/Users", filter='userName eq "ada@example.com"').json()
    assert body["totalResults"] == 1
    mine = DirectoryUser.objects.get(connection=directory.connection, user_name="ada@example.com")
    assert body["Resources"][0]["id"] == str(mine.pk)
    assert DirectoryGroup.objects.filter(connection=other_scim.connection).count() == 0


# Lookups by an item value (``emails[type eq "work"].value eq "…"``): read through the
# value rows' index with the users' groups in one statement when at most one user holds
# it, paged as any other filter otherwise.

EMAILS = [  # (userName, its emails); "shared@example.com" is held by two users
    ("e1@example.com", [("Ada@Example.com", "work"), ("ada@home.example", "home")]),
    ("e2@example.com", [("shared@example.com", "work")]),
    ("e3@example.com", [("SHARED@example.com", "Work"), ("straße@example.com", None)]),
    ("e4@example.com", [("only@home.example", "home")]),
]
ITEM_VALUES = ["ada@example.com", "ada@home.example", "shared@example.com", "strasse@example.com",
               "straße@example.com", "only@home.example", "nobody@x"]  # fmt: skip


@pytest.fixture
def emails_directory(scim):
    users = []
    for name, emails in EMAILS:
        items = [{"value": v, **({"type": t} if t else {})} for v, t in emails]
        users.append(scim.create_user(name, emails=items))
    scim.create_group("Eng", [users[0]["id"], users[2]["id"]])
    return scim


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_an_item_value_lookup_answers_what_the_general_filter_selects(emails_directory, data):
    wanted = data.draw(st.sampled_from(ITEM_VALUES) | st.text(NO_NUL, max_size=12))
    value = json.dumps(respell(wanted, data) if data.draw(st.booleans()) else wanted)
    kind_of = json.dumps(data.draw(st.sampled_from(["work", "WORK", "home", "other"])))
    emails = data.draw(st.sampled_from(["emails", "Emails", f"{USER_CORE}:emails"]))
    text = data.draw(
        st.sampled_from(
            [
                f"{emails}[type eq {kind_of}].value eq {value}",
                f"{emails}[value eq {value}]",
                f"{emails}.value eq {value}",
                f"{emails}[value eq {value} and type eq {kind_of}]",
                f"{emails}[type eq {kind_of} and value eq {value}]",
            ]
        )
    )
    start = data.draw(st.sampled_from([None, 1, 2]))
    count = data.draw(st.sampled_from([None, 0, 1, 10]))
    excluded = data.draw(st.sampled_from([None, "groups", "emails"]))
    given_params = {"startIndex": start, "count": count, "excludedAttributes": excluded}
    params = {"filter": text, **{k: v for k, v in given_params.items() if v is not None}}
    response = emails_directory.get("/Users", **params)
    assert response.status_code == 200, response.content
    body = response.json()
    expected = general(USERS, emails_directory.connection, text)
    assert body["totalResults"] == len(expected)
    shown = expected[(start or 1) - 1 :][: 100 if count is None else count]
    assert [resource["id"] for resource in body["Resources"]] == shown
    for resource in body["Resources"]:
        again = emails_directory.get(f"/Users/{resource['id']}", **(
            {"excludedAttributes": excluded} if excluded else {})).json()  # fmt: skip
        assert resource == again


def test_the_item_value_lookup_reads_no_other_connection(emails_directory, other_scim):
    other_scim.create_user("x@example.com", emails=[{"value": "only@home.example", "type": "home"}])
    body = emails_directory.get(
        "/Users", filter='emails[type eq "home"].value eq "only@home.example"'
    ).json()
    assert [r["userName"] for r in body["Resources"]] == ["e4@example.com"]
    assert body["totalResults"] == 1
