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


@pytest.mark.parametrize(
    "source", ["{% extends layout %}", '{% extends layout|default:"base.html" %}']
)
def test_a_base_template_extending_a_variable_is_not_judged(source):
    """Its parent is known only when a page renders: never a crash of manage.py check."""
    with override_settings(TEMPLATES=templates(**{"base.html": source, "layout.html": COMPLETE})):
        assert checks.check_base_template() == []


def test_the_parent_is_the_django_engine_s_as_extends_finds_it():
    """A Jinja2 engine listed first with a template of the parent's name is not read."""
    with override_settings(
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.jinja2.Jinja2",
                "OPTIONS": {"loader": _jinja2_loader({"layout.html": "<p>other</p>"})},
            },
            *templates(**{"base.html": '{% extends "layout.html" %}', "layout.html": COMPLETE}),
        ]
    ):
        assert checks.check_base_template() == []


def _jinja2_loader(sources):
    import jinja2

    return jinja2.DictLoader(sources)


def test_login_url_under_the_site_s_script_prefix_passes():
    """Behind FORCE_SCRIPT_NAME, LOGIN_URL is a full path with the prefix (redirects use it
    as it is), while URL patterns answer the path after it."""
    from django.urls import get_script_prefix, set_script_prefix

    before = get_script_prefix()
    set_script_prefix("/app/")
    try:
        with override_settings(FORCE_SCRIPT_NAME="/app", LOGIN_URL="/app/admin/login/"):
            assert checks.check_login_url() == []
        with override_settings(FORCE_SCRIPT_NAME="/app", LOGIN_URL="/app/accounts/login/"):
            assert ids(checks.check_login_url()) == ["scim_portal.W012"]
    finally:
        set_script_prefix(before)


def test_a_lazy_login_url_that_reverses_nothing_is_named_in_the_warning():
    with override_settings(LOGIN_URL=reverse_lazy("nowhere:login")):
        [warning] = checks.check_login_url()
    assert warning.id == "scim_portal.W012" and "'nowhere' is not a registered" in warning.msg
