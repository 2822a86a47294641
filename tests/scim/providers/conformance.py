"""The lifecycle every identity provider runs, shared by each provider's test class (as
django-anymail shares its webhook tests across ESPs) and run on that provider's
recorded payloads under ``tests/fixtures/<provider>/``.

A provider's class names its catalogue key and how its client behaves (User-Agent,
PUT or PATCH, deletes users or not); the answers are checked against what its
profile (``scim_portal.scim.providers``) says it expects back. Every case runs twice:
on a connection of that provider with its User-Agent, and on a connection of another
provider with none, since every form is accepted from every client on every
connection (INTEROP.md).
"""

from email.utils import parsedate_to_datetime
from itertools import count

import pytest

from scim_portal.provisioning import create_connection
from scim_portal.scim.providers import PROFILES
from scim_portal.scim.providers.base import HTTP_DATE, SECONDS
from tests.factories import OrganizationFactory
from tests.scim_client import ScimClient, load_fixture

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
_numbers = count()


class IdpClient(ScimClient):
    """The SCIM client of one identity provider: its User-Agent on every request."""

    def __init__(self, client, connection, token, user_agent=""):
        super().__init__(client, connection, token)
        self.user_agent = user_agent

    def _call(self, method, path, body=None, *, headers=None, **kwargs):
        if self.user_agent:
            headers = {"User-Agent": self.user_agent, **(headers or {})}
        return super()._call(method, path, body, headers=headers, **kwargs)


@pytest.mark.django_db
class ProviderConformance:
    """The lifecycle cases; a subclass per provider sets the attributes below."""

    #: The provider's catalogue key; its payloads are in ``tests/fixtures/<provider>/``.
    provider: str
    #: The User-Agent its SCIM client sends, where the provider documents one.
    user_agent = ""
    #: How it changes a user's profile: a PUT of the whole user, or a PATCH.
    update_method = "PATCH"
    #: Whether it deletes users; if not, deactivation is the end of a user's life.
    deletes_users = True
    #: The filter it looks users up with; ``%s`` is the userName.
    user_lookup = 'userName eq "%s"'
    #: What ``update_user`` and ``rename_group`` change: a subset of the answer.
    updated: dict = {}
    renamed: dict = {}
    #: The provider's file for a step, where it is not ``<step>.json``.
    files: dict = {}

    @pytest.fixture(params=["own", "foreign"])
    def scim(self, request, client, db):
        if request.param == "own":
            provider, user_agent = self.provider, self.user_agent
        else:
            provider, user_agent = ("okta" if self.provider == "generic" else "generic"), ""
        connection, issued = create_connection(
            account=OrganizationFactory(), name=f"{self.provider} tests", provider=provider
        )
        return IdpClient(client, connection, issued.raw, user_agent)

    # Helpers

    @property
    def profile(self):
        return PROFILES[self.provider]

    def payload(self, step, **values):
        """The provider's recorded request body for ``step``, placeholders filled."""
        return load_fixture(f"{self.provider}/{self.files.get(step, step + '.json')}", **values)

    def user_name(self):
        return self.payload("create_user")["userName"]

    def create_user(self, scim):
        response = scim.post("/Users", self.payload("create_user"))
        assert response.status_code == 201, response.content
        return response.json()

    def member(self, scim):
        return scim.create_user(f"member{next(_numbers)}@example.com")["id"]

    def create_group(self, scim, member_id=None):
        """The provider's group, with ``member_id`` where it creates groups with members."""
        body = self.payload("create_group", member_id=member_id or self.member(scim))
        response = scim.post("/Groups", body)
        assert response.status_code == 201, response.content
        return response.json(), body

    def patched(self, scim, path, step, resource_type, **values):
        response = scim.patch(path, self.payload(step, **values))
        assert response.status_code in self.profile.patch_statuses[resource_type], response.content
        return response

    def member_ids(self, scim, group_id):
        return {m["value"] for m in scim.get(f"/Groups/{group_id}").json().get("members", [])}

    # Users

    def test_create_user(self, scim):
        sent = self.payload("create_user")
        response = scim.post("/Users", sent)
        assert response.status_code == 201
        assert response["Content-Type"].startswith("application/scim+json")
        user = response.json()
        assert response["Location"] == user["meta"]["location"]
        assert user["userName"] == sent["userName"]
        assert user.get("active") == sent.get("active")
        assert "password" not in user

    def test_find_user_by_user_name_in_another_case(self, scim):
        user = self.create_user(scim)
        found = scim.get("/Users", filter=self.user_lookup % self.user_name().swapcase())
        assert found.status_code == 200
        assert found.json()["totalResults"] == 1
        assert found.json()["Resources"][0]["id"] == user["id"]

    def test_get_user(self, scim):
        user = self.create_user(scim)
        response = scim.get(f"/Users/{user['id']}")
        assert response.status_code == 200
        assert response.json()["userName"] == self.user_name()
        assert response["ETag"] == user["meta"]["version"]

    def test_update_user_its_way(self, scim):
        user = self.create_user(scim)
        path = f"/Users/{user['id']}"
        if self.update_method == "PUT":
            response = scim.put(path, self.payload("update_user", user_id=user["id"]))
            assert response.status_code == 200
        else:
            self.patched(scim, path, "update_user", "User", user_id=user["id"])
        stored = scim.get(path).json()
        assert self.updated.items() <= stored.items()
        assert stored["id"] == user["id"] and stored["userName"] == self.user_name()

    def test_deactivate_then_reactivate(self, scim):
        user = self.create_user(scim)
        path = f"/Users/{user['id']}"
        self.patched(scim, path, "deactivate_user", "User")
        assert scim.get(path).json()["active"] is False
        found = scim.get("/Users", filter=self.user_lookup % self.user_name()).json()
        assert [r["active"] for r in found["Resources"]] == [False]
        self.patched(scim, path, "reactivate_user", "User")
        assert scim.get(path).json()["active"] is True

    def test_deprovision_as_the_provider_does(self, scim):
        user = self.create_user(scim)
        path = f"/Users/{user['id']}"
        if self.deletes_users:
            assert scim.delete(path).status_code == 204
            assert scim.get(path).status_code == 404
            assert scim.delete(path).status_code == 404
        else:
            self.patched(scim, path, "deactivate_user", "User")
            listed = scim.get("/Users").json()["Resources"]
            assert [(u["id"], u["active"]) for u in listed] == [(user["id"], False)]

    def test_duplicate_create_is_409(self, scim):
        self.create_user(scim)
        again = scim.post("/Users", self.payload("create_user"))
        assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"
        _group, body = self.create_group(scim)
        again = scim.post("/Groups", body)
        assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"

    def test_unknown_filter_value_finds_nothing(self, scim):
        self.create_user(scim)
        for path, expression in (
            ("/Users", self.user_lookup % "e4b7d2c0-nobody@example.com"),
            ("/Groups", 'displayName eq "e4b7d2c0-no-such-group"'),
        ):
            response = scim.get(path, filter=expression)
            assert response.status_code == 200
            assert (response.json()["totalResults"], response.json()["Resources"]) == (0, [])

    # Groups

    def test_create_group(self, scim):
        first = self.member(scim)
        group, body = self.create_group(scim, first)
        assert group["displayName"] == body["displayName"]
        sent = {m["value"] for m in body.get("members", [])}
        assert self.member_ids(scim, group["id"]) == sent

    def test_add_member(self, scim):
        group, _body = self.create_group(scim)
        before = self.member_ids(scim, group["id"])
        newcomer = self.member(scim)
        self.patched(scim, f"/Groups/{group['id']}", "add_member", "Group", member_id=newcomer)
        assert self.member_ids(scim, group["id"]) == before | {newcomer}

    def test_remove_member(self, scim):
        group, _body = self.create_group(scim)
        before = self.member_ids(scim, group["id"])
        leaving = self.member(scim)
        scim.patch(f"/Groups/{group['id']}", self.payload("add_member", member_id=leaving))
        self.patched(scim, f"/Groups/{group['id']}", "remove_member", "Group", member_id=leaving)
        assert self.member_ids(scim, group["id"]) == before

    def test_rename_group(self, scim):
        group, _body = self.create_group(scim)
        path = f"/Groups/{group['id']}"
        self.patched(scim, path, "rename_group", "Group", group_id=group["id"])
        assert self.renamed.items() <= scim.get(path).json().items()

    def test_delete_group(self, scim):
        group, _body = self.create_group(scim)
        path = f"/Groups/{group['id']}"
        assert scim.delete(path).status_code == 204
        assert scim.get(path).status_code == 404

    # What it expects back

    def test_throttled_answer_says_when_in_a_form_it_honours(self, scim, settings):
        settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "RATE_LIMIT_PER_MINUTE": 1}
        scim.get("/Users")
        refused = scim.get("/Users")
        assert refused.status_code == 429
        retry_after = refused["Retry-After"]
        form = SECONDS if retry_after.isdigit() else HTTP_DATE
        if form == HTTP_DATE:
            parsedate_to_datetime(retry_after)
        assert form in self.profile.retry_after_forms
