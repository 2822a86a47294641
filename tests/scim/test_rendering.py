"""Property: rendering a stored resource without scim2-models (no shape, or a top-level
exclusion such as ``excludedAttributes=members``) gives what scim2-models gives."""

from datetime import UTC, datetime
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from scim_portal.scim.resources import GROUPS, USERS, ResponseShape

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
BASE = "https://saas.example/scim/v2/c"

word = st.sampled_from(["ann", "Bob", "carl", "x"])
user_body = st.fixed_dictionaries(
    {"userName": st.just("rendered@example.com")},
    optional={
        "externalId": word,
        "displayName": word,
        "title": word,
        "active": st.booleans(),
        "name": st.fixed_dictionaries({"givenName": word}, optional={"familyName": word}),
        "emails": st.just([{"value": "a@x.com", "type": "work", "primary": True}]),
        "phoneNumbers": st.just([{"value": "+1 555", "type": "work"}]),
        ENTERPRISE: st.fixed_dictionaries({"employeeNumber": word}),
    },
)
user_names = st.sampled_from([
    "userName", "displayName", "title", "active", "emails", "name", "externalId",
    "groups", "phoneNumbers", "roles",
])  # fmt: skip


def spelled(name: str):
    """``name`` as an IdP may write it: any case, with or without the core schema URN."""
    return st.sampled_from([name, name.upper(), name.lower(), f"{USER_CORE}:{name}"])


def stored(kind, body, related):
    row = SimpleNamespace(
        id="0190e5a0-0000-7000-8000-000000000001",
        attributes=kind.parse(body),
        created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        last_modified=datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC),
        etag='W/"3"',
    )
    return kind.document(row, BASE, related)


groups_of_user = [USERS.item(BASE, "0190e5a0-0000-7000-8000-00000000000a", "Eng")]


@settings(max_examples=80, deadline=None)
@given(body=user_body, excluded=st.lists(user_names.flatmap(spelled), max_size=3))
def test_top_level_exclusions_render_as_scim2_models_does(body, excluded):
    document = stored(USERS, body, groups_of_user)
    shape = ResponseShape((), excluded)
    assert USERS.render(document, shape) == USERS.render_with_models(document, shape)


def test_the_common_exclusions_skip_scim2_models_and_the_rest_do_not():
    members = [GROUPS.item(BASE, "0190e5a0-0000-7000-8000-00000000000b", "", "ada@x.com")]
    group = stored(GROUPS, {"displayName": "Eng"}, members)
    without_members = ResponseShape((), ["members"])
    assert GROUPS._simply_dropped(without_members) == {"members"}
    assert GROUPS.render(group, without_members) == {
        key: value for key, value in group.items() if key != "members"
    }
    assert GROUPS.render(group, without_members) == GROUPS.render_with_models(
        group, without_members
    )
    # Sub-attributes, always-returned and extension attributes, and any `attributes`
    # list take scim2-models' path.
    for shape in (
        ResponseShape((), ["name.givenName"]),
        ResponseShape((), ["id"]),
        ResponseShape((), ["schemas"]),
        ResponseShape((), [ENTERPRISE]),
        ResponseShape(["userName"], ()),
    ):
        assert USERS._simply_dropped(shape) is None
