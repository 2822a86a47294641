"""Property: PATCH through the API gives what scim2-models' ``PatchOp.patch()`` gives
on the same resource; when the library refuses, the API refuses and changes nothing."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scim2_models import Context, PatchOp
from scim2_models import SCIMException as ModelsScimException

from scim_portal.scim import schema
from scim_portal.scim.resources import USERS
from tests.scim_client import ScimClient

pytestmark = pytest.mark.django_db
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

word = st.sampled_from(["ann", "Bob", "carl", "dana", "x"])
single_paths = st.sampled_from([
    "title", "displayName", "nickName", "name.givenName", "name.familyName", "active",
    f"{ENTERPRISE}:employeeNumber", f"{ENTERPRISE}:department",
])  # fmt: skip


def value_for(path: str):
    return st.booleans() if path == "active" else word


path_op = single_paths.flatmap(
    lambda path: st.builds(
        lambda op, value: {"op": op, "path": path, "value": value},
        st.sampled_from(["add", "replace"]), value_for(path),
    )
)  # fmt: skip
remove_op = single_paths.map(lambda path: {"op": "remove", "path": path})
email_op = st.builds(
    lambda op, kind, local: {"op": op, "path": f'emails[type eq "{kind}"].value',
                             "value": f"{local}@x.com"},
    st.sampled_from(["add", "replace"]), st.sampled_from(["work", "home"]), word,
)  # fmt: skip
pathless_op = st.builds(
    lambda title, given: {"op": "replace", "value": {"title": title, "name.givenName": given}},
    word,
    word,
)
operation = st.one_of(path_op, remove_op, email_op, pathless_op)

start = st.fixed_dictionaries(
    {"userName": st.just("patched@example.com")},
    optional={
        "title": word,
        "displayName": word,
        "active": st.booleans(),
        "name": st.fixed_dictionaries({"givenName": word}),
        "emails": st.just([{"value": "old@x.com", "type": "work"}]),
        ENTERPRISE: st.fixed_dictionaries({"employeeNumber": word}),
    },
)


def expected_after(document, operations):
    model = schema.user_model()
    with schema.POLICY:
        resource = model.model_validate(document)
        try:
            PatchOp[model].model_validate({"schemas": [PATCH], "Operations": operations}).patch(
                resource
            )
        except (ModelsScimException, ValueError):
            return None
        dumped = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return USERS.stored(model.model_validate(dumped))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(document=start, operations=st.lists(operation, min_size=1, max_size=4))
def test_api_patch_equals_library_patch(scim: ScimClient, document, operations):
    stored = USERS.parse(document)
    expected = expected_after(stored, operations)
    created = scim.post("/Users", document).json()
    response = scim.patch(f"/Users/{created['id']}", {"schemas": [PATCH], "Operations": operations})
    after = scim.get(f"/Users/{created['id']}").json()
    scim.delete(f"/Users/{created['id']}")
    if expected is None:
        assert 400 <= response.status_code < 500, response.json()
        assert after["meta"]["version"] == created["meta"]["version"]
        return
    assert response.status_code == 200, (operations, response.json())
    actual = {k: v for k, v in after.items() if k not in {"id", "meta"}}
    assert actual == expected, operations
