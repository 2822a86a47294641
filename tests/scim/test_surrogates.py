"""A lone UTF-16 surrogate is not text any database stores: a SCIM 400, never a 500."""

import pytest

from .test_errors import assert_scim_error

pytestmark = pytest.mark.django_db

LONE = "\\ud800"  # as JSON escapes it: valid JSON, not valid Unicode text


def test_a_lone_surrogate_in_a_filter_value_is_invalid_filter(scim):
    body = assert_scim_error(scim.get("/Users", filter=f'userName eq "a{LONE}"'), 400)
    assert body["scimType"] == "invalidFilter"


def test_a_lone_surrogate_in_a_resource_is_invalid_value(scim):
    raw = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a' + LONE + '"}'
    assert_scim_error(scim.post("/Users", raw), 400)
    assert scim.get("/Users").json()["totalResults"] == 0


@pytest.mark.parametrize("name", ["sortBy", "attributes", "excludedAttributes", "count"])
def test_a_nul_in_any_query_parameter_is_invalid_value(scim, name):
    scim.create_user("a@example.com")
    body = assert_scim_error(scim.get("/Users", **{"filter": 'userName eq "a"', name: "\x00"}), 400)
    assert "NUL" in body["detail"]


def test_every_value_of_a_repeated_parameter_is_checked(scim):
    response = scim.client.get(
        f"{scim.base}/Users?sortBy=userName&sortBy=%00",
        HTTP_AUTHORIZATION=f"Bearer {scim.token}",
    )
    assert_scim_error(response, 400)
