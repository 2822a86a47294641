"""What a tenant admin does in the Provisioning tab, with the Django test client."""

import re
import uuid

import pytest
from django.test import Client

from scim_portal.models import (
    Connection,
    Credential,
    DirectoryUser,
    ProvisioningEvent,
    RequestLog,
)
from scim_portal.provisioning import directory
from tests.factories import UserFactory, VerifiedDomainFactory
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(setup):
    client = Client()
    client.force_login(setup["people"]["admin"])
    return client


def token_on(page: str) -> str:
    match = re.search(r'id="scim-token" value="(scimp_[^"]+)"', page)
    assert match, "no token on the page"
    return match[1]


def scim_get(client, connection, token, path="/Users"):
    return client.get(f"/scim/v2/{connection.pk}{path}", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_create_shows_url_and_token_once(admin, setup):
    nonce = uuid.uuid4().hex
    form = {"name": "Entra prod", "provider": "entra", "method": "bearer", "nonce": nonce}
    response = admin.post("/provisioning/acme/new/", form)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    token = token_on(page)
    connection = Connection.objects.get(name="Entra prod")
    assert f"/scim/v2/{connection.pk}?aadOptscim062020" in page
    assert "shown only once" in page and "Microsoft Entra admin center" in page
    assert scim_get(admin, connection, token).status_code == 200

    again = admin.post("/provisioning/acme/new/", form)  # the browser re-submits
    assert again.status_code == 302
    assert Connection.objects.filter(name="Entra prod").count() == 1
    for url in (
        f"/provisioning/acme/{connection.pk}/",
        f"/provisioning/acme/{connection.pk}/tokens/",
    ):
        assert token not in admin.get(url).content.decode()


def test_invalid_create_form_explains(admin):
    response = admin.post(
        "/provisioning/acme/new/", {"name": "  ", "provider": "nope", "nonce": "x"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required." in page  # the blank name (Django strips it)
    assert "Select a valid choice" in page


def test_rotate_then_revoke(admin, setup, base):
    connection = setup["connection"]
    old = Credential.objects.get(connection=connection)
    response = admin.post(base + "/tokens/rotate/", {"label": "2026", "nonce": uuid.uuid4().hex})
    new_token = token_on(response.content.decode())
    assert "Older credentials keep working" in response.content.decode()
    assert scim_get(admin, connection, new_token).status_code == 200
    assert Credential.objects.get(pk=old.pk).is_usable
    admin.post(base + f"/tokens/{old.pk}/revoke/")
    assert not Credential.objects.get(pk=old.pk).is_usable
    page = admin.get(base + "/tokens/").content.decode()
    assert "Revoked" in page and "2026" in page


def test_rotate_with_an_expiry_in_the_past_is_refused(admin, base):
    response = admin.post(
        base + "/tokens/rotate/",
        {"label": "", "expires_at": "2001-01-01T00:00", "nonce": uuid.uuid4().hex},
    )
    assert response.status_code == 400
    assert "future" in response.content.decode()


def test_role_mapping_and_policies(admin, setup, base):
    user = setup["user"]
    admin.post(base + "/settings/", {"form": "settings", "name": "Okta", "default_role": "viewer",
                                     "link_policy": "always_create",
                                     "deprovision_policy": "remove",
                                     "out_of_domain_policy": "reject"})  # fmt: skip
    member = OrganizationMembership.objects.get(
        user=DirectoryUser.objects.get(pk=user.pk).host_user
    )
    assert member.role == "viewer"
    admin.post(base + "/settings/", {"form": "mapping", "group": setup["group"].pk,
                                     "role": "editor", "precedence": 1})  # fmt: skip
    member.refresh_from_db()
    assert member.role == "editor"
    page = admin.get(base + "/settings/").content.decode()
    assert "Eng" in page and "editor" in page
    admin.post(base + "/settings/", {"form": "unmap", "group": setup["group"].pk})
    member.refresh_from_db()
    assert member.role == "viewer"


def test_every_configuration_change_shows_on_the_activity_page_with_who_and_what(
    admin, setup, base
):
    admin.post(base + "/settings/", {"form": "settings", "name": "Okta EU", "default_role": "",
                                     "link_policy": "never", "deprovision_policy": "remove",
                                     "out_of_domain_policy": "accept"})  # fmt: skip
    admin.post(base + "/settings/", {"form": "mapping", "group": setup["group"].pk,
                                     "role": "editor", "precedence": 1})  # fmt: skip
    admin.post(base + "/settings/", {"form": "mapping", "group": setup["group"].pk,
                                     "role": "admin", "precedence": 2})  # fmt: skip
    admin.post(base + "/settings/", {"form": "unmap", "group": setup["group"].pk})
    events = ProvisioningEvent.objects.filter(connection=setup["connection"]).order_by("number")
    changes = [(e.type, e.changes) for e in events if e.type.startswith(("connection.up", "role_"))]
    assert [kind for kind, _ in changes] == [
        "connection.updated", "role_mapping.set", "role_mapping.set", "role_mapping.removed",
    ]  # fmt: skip
    assert changes[0][1] == {
        "name": {"old": "Okta", "new": "Okta EU"},
        "link_policy": {"old": "verified_email", "new": "never"},
        "deprovision_policy": {"old": "deactivate", "new": "remove"},
        "out_of_domain_policy": {"old": "flag", "new": "accept"},
    }
    assert changes[2][1]["role"] == {"old": "editor", "new": "admin"}
    assert all(e.actor == {"type": "user", "id": setup["people"]["admin"].pk,
                           "username": "admin", "via": "portal"}
               for e in events if e.type.startswith(("connection.up", "role_")))  # fmt: skip
    page = admin.get(base + "/activity/").content.decode()
    assert "link policy: verified_email → never" in page
    assert "role: editor → admin" in page and "by admin," in page


def test_directory_pages(admin, setup, base):
    users = admin.get(base + "/users/", {"q": "ADA"}).content.decode()
    assert "ada@example.com" in users
    assert "No user matches" in admin.get(base + "/users/", {"q": "zzz"}).content.decode()
    detail = admin.get(base + f"/users/{setup['user'].pk}/").content.decode()
    assert "Eng" in detail
    group = admin.get(base + f"/groups/{setup['group'].pk}/").content.decode()
    assert "ada@example.com" in group


def test_request_log_filters_and_explains(admin, setup, base):
    errors = admin.get(base + "/logs/", {"status": "errors"}).content.decode()
    assert "401" in errors
    assert (
        "GET"
        not in admin.get(base + "/logs/", {"status": "success"})
        .content.decode()
        .split("<tbody>")[1]
        .split("</tbody>")[0]
    )
    detail = admin.get(base + f"/logs/{setup['log'].pk}/").content.decode()
    assert "credential was missing, wrong, revoked or expired" in detail
    assert "<dt>Credential</dt><dd>none accepted</dd>" in detail


@pytest.mark.parametrize(("kind", "prefix", "shown"), [
    ("basic", "scimu_ab12", "HTTP Basic <code>scimu_ab12</code>"),
    ("client_secret", "scimat_9f8e7d6c", "OAuth client secret <code>scimat_9f8e7d6c…</code>"),
])  # fmt: skip
def test_a_logged_request_names_the_credential_that_acted(admin, setup, base, kind, prefix, shown):
    entry = RequestLog.objects.create(
        connection=setup["connection"], method="GET", path="/scim/v2/x/Users", status=200,
        duration_ms=1, credential_kind=kind, token_prefix=prefix,
    )  # fmt: skip
    detail = admin.get(base + f"/logs/{entry.pk}/").content.decode()
    assert f"<dt>Credential</dt><dd>{shown}</dd>" in detail


def test_delete_page_shows_counts_and_removal_checked(admin, base):
    page = admin.get(base + "/delete/").content.decode()
    assert "1 user" in page and "1 group" in page
    assert re.search(r'<input[^>]*name="remove_directory"[^>]*checked', page)
    assert "Also remove all users and groups provisioned through this connection" in page


@pytest.mark.parametrize(("remove", "host_active"), [(True, False), (False, True)])
def test_delete_with_and_without_removal(admin, setup, base, remove, host_active):
    host = DirectoryUser.objects.get(pk=setup["user"].pk).host_user
    response = admin.post(base + "/delete/", {"remove_directory": "on"} if remove else {})
    assert response.status_code == 302
    assert not Connection.objects.filter(pk=setup["connection"].pk).exists()
    host.refresh_from_db()
    assert host.is_active is host_active


def test_pages_have_no_inline_script_or_style(admin, setup, base):
    new = "/provisioning/acme/new/"
    urls = ["/provisioning/acme/", new, new + "?provider=okta", new + "?provider=entra",
            base + "/", base + "/users/", base + "/groups/", base + "/logs/", base + "/activity/",
            base + "/tokens/", base + f"/tokens/{setup['token'].pk}/revoke/", base + "/settings/",
            base + "/delete/"]  # fmt: skip
    pages = [admin.get(url).content.decode() for url in urls]
    issued = admin.post(base + "/tokens/rotate/", {"kind": "basic", "nonce": uuid.uuid4().hex})
    for url, page in zip([*urls, "issued"], [*pages, issued.content.decode()], strict=True):
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url
        assert not re.search(r"\son[a-z]+=", page), url
        assert not re.search(r"\sstyle=", page), url


@pytest.mark.parametrize("group", ["", "not-a-uuid", "00000000-0000-7000-8000-000000000000"])
def test_unmapping_an_unknown_group_is_404(admin, base, group):
    assert admin.post(base + "/settings/", {"form": "unmap", "group": group}).status_code == 404


def test_unknown_form_is_400(admin, base):
    assert admin.post(base + "/settings/", {"form": "bogus"}).status_code == 400


def test_users_show_how_each_joined_the_account_and_flag_unverified_domains(admin, setup, base):
    UserFactory(username="grace-at-globex", email="grace@other.example")
    directory.create_user(
        setup["connection"], {"userName": "grace", "emails": [{"value": "grace@other.example"}]}
    )
    directory.create_user(
        setup["connection"], {"userName": "lin", "emails": [{"value": "lin@example.com"}]}
    )
    page = admin.get(base + "/users/").content.decode()
    assert "1 user is" in page and "not linked yet" in page
    assert "Email in use" in page and "Managed" in page
    assert page.count("Unverified domain") == 2  # nobody verified a domain yet
    VerifiedDomainFactory(account=setup["account"], domain="example.com")
    page = admin.get(base + "/users/").content.decode()
    assert page.count("Unverified domain") == 1  # grace@other.example only
    awaiting = admin.get(base + "/users/", {"link": "pending"}).content.decode()
    assert "grace" in awaiting and "ada@example.com" not in awaiting
    grace = DirectoryUser.objects.get(user_name="grace")
    detail = admin.get(base + f"/users/{grace.pk}/").content.decode()
    assert "accept an invitation" in detail and "grace-at-globex" not in detail


def test_help_text_is_what_its_field_is_described_by(admin):
    """Screen readers read a field's help: each ``aria-describedby`` names an element."""
    for url in ("/provisioning/acme/new/", "/provisioning/acme/new/?provider=entra"):
        page = admin.get(url).content.decode()
        described = re.findall(r'aria-describedby="([^"]+)"', page)
        assert described
        for target in described:
            for name in target.split():
                assert f'id="{name}"' in page, name
