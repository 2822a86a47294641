"""A userName or displayName in any script is one identity whatever its case (INTEROP 24).

Names compare by Unicode's full case folding of their NFC form (``str.casefold``), the
same on SQLite and on PostgreSQL under any locale: found by ``eq`` in any case, unique
ignoring case, sorted and matched by ``sw``/``co``/``ew``/``ne`` the same way.
"""

import itertools
import json
import string
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

USER_CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_CORE = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

DOTLESS_I = "\N{LATIN SMALL LETTER DOTLESS I}"
# Cased letters of every script, mixed with ASCII. The dotless i is the one cased letter
# whose upper case (I) folds to another letter (i): it has its own test below.
letters = st.characters(categories=["Lu", "Ll", "Lt"], exclude_characters=DOTLESS_I)
local_part = st.text(
    letters | st.sampled_from(string.ascii_letters + "._-"), min_size=1, max_size=12
)
numbers = itertools.count()


def eq(attribute: str, value: str) -> str:
    return f"{attribute} eq {json.dumps(value, ensure_ascii=False)}"


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [resource["id"] for resource in response.json()["Resources"]]


def user_body(user_name: str, **attributes) -> dict:
    return {"schemas": [USER_CORE], "userName": user_name, **attributes}


def group_body(display_name: str) -> dict:
    return {"schemas": [GROUP_CORE], "displayName": display_name}


def replace(path: str, value: str) -> dict:
    return {"schemas": [PATCH], "Operations": [{"op": "replace", "path": path, "value": value}]}


KINDS = {
    "User": ("/Users", "userName", user_body),
    "Group": ("/Groups", "displayName", group_body),
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_name_in_any_script_is_found_in_any_case_and_unique(scim, data):
    endpoint, attribute, body = KINDS[data.draw(st.sampled_from(sorted(KINDS)))]
    name = f"{data.draw(local_part)}.{next(numbers)}@example.com"
    created = scim.post(endpoint, body(name))
    assert created.status_code == 201, created.content
    resource_id = created.json()["id"]
    for spelling in (name, name.upper(), name.lower()):
        assert ids(scim.get(endpoint, filter=eq(attribute, spelling))) == [resource_id], spelling

    taken = scim.post(endpoint, body(name.swapcase()))
    assert taken.status_code == 409, taken.content
    assert taken.json()["scimType"] == "uniqueness"

    # Its own name in another case is no conflict with itself.
    renamed = scim.patch(f"{endpoint}/{resource_id}", replace(attribute, name.upper()))
    assert renamed.status_code in {200, 204}, renamed.content
    assert ids(scim.get(endpoint, filter=eq(attribute, name))) == [resource_id]

    assert scim.delete(f"{endpoint}/{resource_id}").status_code == 204
    assert ids(scim.get(endpoint, filter=eq(attribute, name))) == []


@pytest.mark.parametrize("name", ["Zoë.Ωmega@example.com", "Émile.Upper@example.com"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_non_ascii_capitals_compare_ignoring_case(scim, kind, name):
    endpoint, attribute, body = KINDS[kind]
    resource_id = scim.post(endpoint, body(name)).json()["id"]
    scim.post(endpoint, body("someone.else@example.com"))
    local = name.split("@")[0]
    for spelling in (name, name.upper(), name.lower()):
        assert ids(scim.get(endpoint, filter=eq(attribute, spelling))) == [resource_id], spelling
        assert ids(scim.post(f"{endpoint}/.search", {"filter": eq(attribute, spelling)})) == [
            resource_id
        ]
    for op, value in (("sw", local.upper()), ("co", local[1:].lower()), ("ew", name.upper()[1:])):
        text = f"{attribute} {op} {json.dumps(value, ensure_ascii=False)}"
        assert ids(scim.get(endpoint, filter=text)) == [resource_id], text
    others = ids(scim.get(endpoint, filter=f"{attribute} ne {json.dumps(name.upper())}"))
    assert resource_id not in others and len(others) == 1
    taken = scim.post(endpoint, body(name.lower()))
    assert (taken.status_code, taken.json()["scimType"]) == (409, "uniqueness")


def test_a_user_s_display_name_and_email_compare_ignoring_case(scim):
    user = scim.create_user(
        "zoe@example.com",
        displayName="Zoë Ωmega",
        emails=[{"value": "Zoë.Ωmega@example.com", "type": "work", "primary": True}],
    )
    for text in (
        eq("displayName", "ZOË ΩMEGA"),
        'displayName sw "zoË"',
        eq("emails.value", "ZOË.ΩMEGA@EXAMPLE.COM"),
        'emails[type eq "work"].value eq "zoë.ωmega@example.com"',
        'emails co "Ωmega"',
    ):
        assert ids(scim.get("/Users", filter=text)) == [user["id"]], text


def test_sharp_s_and_ss_are_one_name(scim):
    """Full case folding: STRASSE is straße in capitals, so it names the same person."""
    user = scim.create_user("straße@example.com")
    for spelling in ("STRASSE@example.com", "strasse@example.com", "STRAẞE@example.com"):
        assert ids(scim.get("/Users", filter=eq("userName", spelling))) == [user["id"]], spelling
    taken = scim.post("/Users", user_body("Strasse@example.com"))
    assert (taken.status_code, taken.json()["scimType"]) == (409, "uniqueness")


def test_turkish_i_folds_as_unicode_does_without_a_locale(scim):
    """Dotted İ folds to i + combining dot, the dotless i to itself: neither is plain i."""
    dotted = scim.create_user("İrem@example.com")
    dotless = scim.create_user(f"{DOTLESS_I}lg{DOTLESS_I}n@example.com")
    assert ids(scim.get("/Users", filter=eq("userName", "İREM@example.com"))) == [dotted["id"]]
    assert ids(scim.get("/Users", filter=eq("userName", "i̇rem@example.com"))) == [dotted["id"]]
    assert ids(scim.get("/Users", filter=eq("userName", "ILGIN@example.com"))) == []
    assert ids(
        scim.get("/Users", filter=eq("userName", f"{DOTLESS_I}LG{DOTLESS_I}N@example.com"))
    ) == [dotless["id"]]
    # So the plain-i spellings are other people.
    scim.create_user("irem@example.com")
    scim.create_user("ILGIN@example.com")


def test_composed_and_decomposed_accents_are_one_name(scim):
    composed = unicodedata.normalize("NFC", "Émile@example.com")
    decomposed = unicodedata.normalize("NFD", "ÉMILE@example.com")
    assert composed != decomposed.upper()
    user = scim.create_user(composed)
    assert ids(scim.get("/Users", filter=eq("userName", decomposed))) == [user["id"]]
    taken = scim.post("/Users", user_body(decomposed))
    assert taken.status_code == 409


def test_sorting_by_name_ignores_case_in_every_script(scim):
    names = ["Éb@example.com", "éa@example.com", "Ωa@example.com", "ωB@example.com"]
    for name in names:
        scim.create_user(name)
    body = scim.get("/Users", sortBy="userName").json()
    assert [r["userName"] for r in body["Resources"]] == names[1::-1] + names[2:]
    body = scim.get("/Users", sortBy="userName", sortOrder="descending").json()
    assert [r["userName"] for r in body["Resources"]] == (names[1::-1] + names[2:])[::-1]


def test_a_name_too_long_for_the_index_once_folded_is_a_400_not_a_database_error(scim):
    """Each folded key is indexed; an index entry holds about 2,700 bytes on PostgreSQL."""
    assert scim.post("/Users", {"userName": "ﬃ" * 250}).status_code == 201  # 750 bytes
    half = "\U0001d15e" * 255  # each decomposes into two 4-byte characters: 2,040 bytes
    assert scim.post("/Users", {"userName": half}).status_code == 201  # the index holds it
    long = "\U0001d160" * 255  # each decomposes into three: 3,060 bytes
    response = scim.post("/Users", {"userName": long})
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"
    assert "too long once case-folded" in response.json()["detail"]


def test_attributes_kept_in_the_document_match_their_own_spelling(scim):
    """No folded key for ``title`` or ``name.familyName``: the database's LOWER() on both
    sides, so an exact-case match is found even where LOWER() folds only ASCII."""
    user = scim.create_user("doc@example.com", title="Émile", name={"familyName": "Ωmega"})
    for query in ('title eq "Émile"', 'name.familyName eq "Ωmega"', 'title sw "Ém"'):
        found = scim.get("/Users", filter=query).json()
        assert [r["id"] for r in found["Resources"]] == [user["id"]], query
