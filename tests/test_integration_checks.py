"""System checks that catch a host integration which would break the Provisioning tab."""

import pytest
from django.test import override_settings
from django.urls import reverse_lazy

from scim_portal import checks


def ids(messages):
    return sorted(message.id for message in messages)


def templates(**sources):
    return [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {"loaders": [("django.template.loaders.locmem.Loader", sources)]},
        }
    ]


COMPLETE = (
    "<html><head><title>{% block title %}{% endblock %}</title>"
    "{% block extra_head %}{% endblock %}</head>"
    "<body>{% block content %}{% endblock %}</body></html>"
)


def test_missing_base_template_is_an_error_naming_the_setting():
    with override_settings(TEMPLATES=templates(**{"other.html": COMPLETE})):
        [error] = checks.check_base_template()
    assert error.id == "scim_portal.E008"
    assert "'base.html'" in error.msg and "BASE_TEMPLATE" in error.hint


def test_complete_base_template_passes():
    with override_settings(TEMPLATES=templates(**{"base.html": COMPLETE})):
        assert checks.check_base_template() == []


def test_base_template_named_in_settings_is_the_one_checked():
    with override_settings(
        TEMPLATES=templates(**{"layout/site.html": COMPLETE}),
        SCIM_PORTAL={"BASE_TEMPLATE": "layout/site.html"},
    ):
        assert checks.check_base_template() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("<body>{% block body %}{% endblock %}</body>", ["scim_portal.E009", "scim_portal.W013"]),
        ("{% block title %}{% endblock %}{% block content %}{% endblock %}", ["scim_portal.E009"]),
        ("{% block extra_head %}{% endblock %}{% block content %}{% endblock %}",
         ["scim_portal.W013"]),
    ],
)  # fmt: skip
def test_missing_blocks_are_reported(source, expected):
    with override_settings(TEMPLATES=templates(**{"base.html": source})):
        assert ids(checks.check_base_template()) == expected


def test_blocks_of_the_base_templates_own_parent_count():
    with override_settings(
        TEMPLATES=templates(
            **{
                "base.html": '{% extends "layout.html" %}{% block title %}Site{% endblock %}',
                "layout.html": COMPLETE,
            }
        )
    ):
        assert checks.check_base_template() == []


def test_the_tab_really_answers_500_without_a_base_template(client, admin_user, organization):
    """What E008 warns of: the page the check protects breaks exactly so."""
    from django.template import TemplateDoesNotExist

    client.force_login(admin_user)
    with (
        override_settings(
            TEMPLATES=[
                {
                    "BACKEND": "django.template.backends.django.DjangoTemplates",
                    "APP_DIRS": True,
                    "OPTIONS": {
                        "context_processors": ["django.template.context_processors.request"]
                    },
                }
            ]
        ),
        pytest.raises(TemplateDoesNotExist),
    ):
        client.get(reverse_lazy("scim_portal:portal:connection-list", args=[organization.handle]))
    with override_settings(
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
    ):
        assert ids(checks.check_base_template()) == ["scim_portal.E008"]


@pytest.mark.parametrize("login_url", ["/accounts/login/", "nowhere:login"])
def test_login_url_that_answers_404_is_a_warning(login_url):
    with override_settings(LOGIN_URL=login_url):
        [warning] = checks.check_login_url()
    assert warning.id == "scim_portal.W012" and login_url in warning.msg


@pytest.mark.parametrize(
    "login_url",
    ["admin:login", "/admin/login/", reverse_lazy("admin:login"), "https://sso.example.com/login"],
)
def test_login_url_that_resolves_passes(login_url):
    with override_settings(LOGIN_URL=login_url):
        assert checks.check_login_url() == []
