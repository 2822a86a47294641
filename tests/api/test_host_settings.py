"""The management API keeps its own DRF policies whatever the host's ``REST_FRAMEWORK``
says: HTTP Basic, a host token scheme, permissive permissions, form parsers, page-number
paging or a host exception handler never reach it; and system checks report a view that
would take them.

DRF reads ``REST_FRAMEWORK`` at two moments: into ``APIView``'s and ``GenericAPIView``'s
class attributes when it is first imported, and through ``api_settings`` at run time. A
host's settings therefore arrive both ways here: ``settings.REST_FRAMEWORK`` (DRF reloads
``api_settings`` on ``setting_changed``) and DRF's class attributes set to what that import
would have made of them.
"""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import path
from rest_framework import generics
from rest_framework.authentication import BaseAuthentication, BasicAuthentication
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from scim_portal import checks
from scim_portal.api import urls as api_urls
from scim_portal.api import views
from scim_portal.api.authentication import API_AUTHENTICATION_CLASSES
from scim_portal.models import Connection, EnvironmentKey
from tests.scim_client import basic_auth

pytestmark = pytest.mark.django_db
API = "/api/v1"
PASSWORD = "correct horse battery staple"


class HostTokenAuthentication(BaseAuthentication):
    """A host's token scheme: ``Authorization: Token <username>`` is that user."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Token "):
            return None
        user = get_user_model().objects.get(username=header.removeprefix("Token "))
        return user, None

    def authenticate_header(self, request):
        return "Token"


def host_exception_handler(exc, context):
    return Response({"host_error": str(exc)}, status=418)


HOST_REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.BasicAuthentication",
        "tests.api.test_host_settings.HostTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.FormParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.TemplateHTMLRenderer"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 1,
    "EXCEPTION_HANDLER": "tests.api.test_host_settings.host_exception_handler",
}

#: DRF's class attributes, from the settings they were read from on import.
CLASS_ATTRIBUTES = {
    APIView: {
        "authentication_classes": "DEFAULT_AUTHENTICATION_CLASSES",
        "permission_classes": "DEFAULT_PERMISSION_CLASSES",
        "parser_classes": "DEFAULT_PARSER_CLASSES",
        "renderer_classes": "DEFAULT_RENDERER_CLASSES",
    },
    generics.GenericAPIView: {"pagination_class": "DEFAULT_PAGINATION_CLASS"},
}


@pytest.fixture
def host_defaults(settings, monkeypatch):
    """The host's REST_FRAMEWORK, as DRF would have it had it been set before import."""
    settings.REST_FRAMEWORK = HOST_REST_FRAMEWORK
    for cls, attributes in CLASS_ATTRIBUTES.items():
        for attribute, setting in attributes.items():
            monkeypatch.setattr(cls, attribute, getattr(api_settings, setting))
    assert BasicAuthentication in api_settings.DEFAULT_AUTHENTICATION_CLASSES
    yield
    # settings' teardown reloads api_settings with the suite's own.


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def env_key(db):
    return EnvironmentKey.issue("CI automation")[1]


def test_http_basic_and_host_tokens_never_reach_the_api(host_defaults, setup, superuser):
    connections = f"{API}/accounts/acme/connections/"
    # The host's own DRF views would take these credentials.
    for header in (basic_auth("root", PASSWORD), "Token root"):
        for url in (connections, f"{API}/connections/", f"{API}/webhook-endpoints/"):
            response = Client().get(url, HTTP_AUTHORIZATION=header)
            assert response.status_code == 401, (header, url, response.content)
            assert response.json() == {"detail": "Authentication credentials were not provided."}
            assert response["WWW-Authenticate"].startswith("Bearer")
        created = Client().post(
            connections,
            {"name": "Sneaky", "provider": "okta"},
            content_type="application/json",
            HTTP_AUTHORIZATION=header,
        )
        assert created.status_code == 401
    assert not Connection.objects.filter(name="Sneaky").exists()
    # Anonymous: the host's AllowAny does not open the API either.
    assert Client().get(connections).status_code == 401


def test_the_api_still_works_with_its_own_authentication(host_defaults, setup, env_key):
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {env_key}"}
    listed = Client().get(f"{API}/accounts/acme/connections/", **bearer)
    assert listed.status_code == 200
    assert listed["Content-Type"] == "application/json"
    body = listed.json()
    assert set(body) == {"next", "previous", "results"}  # its cursor pages, not the host's
    assert [row["name"] for row in body["results"]] == ["Okta"]
    created = Client().post(
        f"{API}/accounts/acme/connections/",
        {"name": "From the backend", "provider": "okta"},
        content_type="application/json",
        **bearer,
    )
    assert created.status_code == 201, created.content  # JSON, though the host parses forms


def test_a_signed_in_person_needs_the_csrf_token_to_change_anything(host_defaults, setup):
    admin = Client(enforce_csrf_checks=True)
    admin.force_login(setup["people"]["admin"])
    url = f"{API}/accounts/acme/connections/"
    assert admin.get(url).status_code == 200
    data = {"name": "Through the session", "provider": "okta"}
    refused = admin.post(url, data, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    token = "k" * 32
    admin.cookies["csrftoken"] = token
    created = admin.post(url, data, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert created.status_code == 201, created.content
    # A person without the account's permission stays out, whatever the host allows.
    member = Client()
    member.force_login(setup["people"]["member"])
    assert member.get(url).status_code == 403


# System checks: scim_portal.W010 and W011


class Forgetful(APIView):
    """A view added to the API without declaring anything."""

    def get(self, request):
        return Response({})


def test_the_api_views_pass_the_checks():
    assert checks.check_api_authentication() == []


def test_a_view_that_forgets_its_declarations_is_reported(monkeypatch):
    monkeypatch.setattr(
        api_urls, "urlpatterns", [*api_urls.urlpatterns[:1], path("x/", Forgetful.as_view())]
    )
    found = {(message.id, message.obj) for message in checks.check_api_authentication()}
    assert found == {("scim_portal.W010", Forgetful), ("scim_portal.W011", Forgetful)}
    message = next(m for m in checks.check_api_authentication() if m.id == "scim_portal.W010")
    assert "BasicAuthentication" in message.msg


def test_the_base_view_losing_its_authentication_is_reported(monkeypatch):
    monkeypatch.delattr(views.ApiView, "authentication_classes")
    messages = checks.check_api_authentication()
    reported = {message.obj for message in messages if message.id == "scim_portal.W010"}
    assert views.AccountConnectionsView in reported and views.AllConnectionsView in reported
    inherited = [m.msg for m in messages if m.id == "scim_portal.W011"]
    assert inherited and all("authentication_classes" in text for text in inherited)


def test_a_view_adding_basic_authentication_is_reported(monkeypatch):
    class Wider(views.AllConnectionsView):
        authentication_classes = [*API_AUTHENTICATION_CLASSES, BasicAuthentication]

    monkeypatch.setattr(
        api_urls, "urlpatterns", [*api_urls.urlpatterns, path("wider/", Wider.as_view())]
    )
    messages = checks.check_api_authentication()
    assert [(m.id, m.obj) for m in messages] == [("scim_portal.W010", Wider)]


def test_a_paged_view_taking_the_hosts_pagination_is_reported(monkeypatch):
    monkeypatch.delattr(views.ApiView, "pagination_class")
    assert checks.check_api_authentication() == []  # every paged view names its own
    monkeypatch.delattr(views.DirectoryUsersView, "pagination_class")
    messages = checks.check_api_authentication()
    assert [(m.id, m.obj) for m in messages] == [("scim_portal.W011", views.DirectoryUsersView)]
    assert "pagination_class" in messages[0].msg
