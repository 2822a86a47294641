"""Fuzzing every SCIM endpoint with generated malformed input: no 5xx, no HTML."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.scim_client import ScimClient

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)  # fmt: skip
scim_keys = st.sampled_from([
    "userName", "displayName", "members", "emails", "active", "Operations", "op", "path",
    "value", "schemas", "name", "externalId", "filter", "startIndex", "count", "bulkId",
    "method", "data", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
])  # fmt: skip
scim_like = st.recursive(
    json_values,
    lambda children: (
        st.dictionaries(scim_keys, children, max_size=5)
        | st.lists(st.dictionaries(scim_keys, children, max_size=4), max_size=3)
    ),
    max_leaves=16,
)
bodies = st.one_of(scim_like.map(json.dumps), st.binary(max_size=200), st.text(max_size=200))
settings_ = settings(
    max_examples=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)  # fmt: skip


def assert_scim(response):
    assert response.status_code < 500, response.content[:500]
    if response.status_code != 204 and response.status_code != 304:
        assert response["Content-Type"] == "application/scim+json", response.content[:200]
        assert not response.content.lstrip().startswith(b"<")


@pytest.fixture
def targets(scim: ScimClient):
    user = scim.create_user("fuzz@example.com")
    group = scim.create_group("Fuzz", [user["id"]])
    return {"user": user["id"], "group": group["id"]}


# Django's test client re-encodes a body whose content type names a charset, so those
# get ASCII JSON; the others get any bytes or text.
body_and_type = st.one_of(
    st.tuples(bodies, st.sampled_from(["application/scim+json", "application/json", "text/plain"])),
    st.tuples(scim_like.map(json.dumps), st.just("application/scim+json; charset=latin-1")),
)


@settings_
@given(sent=body_and_type, method=st.sampled_from(["post", "put", "patch"]),
       path=st.sampled_from(["/Users", "/Groups", "/Users/{user}", "/Groups/{group}", "/Bulk",
                             "/.search", "/Users/.search", "/ResourceTypes"]))  # fmt: skip
def test_bodies(scim, targets, sent, method, path):
    body, content_type = sent
    assert_scim(scim._call(method, path.format(**targets), body, content_type=content_type))


@settings_
@given(params=st.dictionaries(
    st.sampled_from(["filter", "startIndex", "count", "sortBy", "sortOrder", "attributes",
                     "excludedAttributes"]),
    st.text(max_size=60), max_size=4,
), path=st.sampled_from(["/Users", "/Groups", "/Users/{user}", "/Groups/{group}"]))  # fmt: skip
def test_query_strings(scim, targets, params, path):
    assert_scim(scim.get(path.format(**targets), **params))


latin1 = st.text(st.characters(max_codepoint=255), max_size=60)  # what WSGI headers can hold


@settings_
@given(if_match=latin1, path=st.text(max_size=40), authorization=latin1)
def test_headers_and_paths(scim, targets, if_match, path, authorization):
    assert_scim(scim.patch_ops(f"/Users/{targets['user']}",
                               {"op": "replace", "path": "title", "value": "x"},
                               headers={"If-Match": if_match}))  # fmt: skip
    assert_scim(scim.client.get(f"{scim.base}/{path}", HTTP_AUTHORIZATION=f"Bearer {scim.token}"))
    assert_scim(scim.client.get(f"{scim.base}/Users", HTTP_AUTHORIZATION=authorization))
