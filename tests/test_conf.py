import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from scim_portal import checks
from scim_portal.conf import app_settings, get_account_model
from tests.testapp.models import Organization


def check_ids(*results):
    return sorted(message.id for result in results for message in result)


def test_defaults_apply_to_keys_not_set():
    assert app_settings.TOKEN_LAST_USED_RESOLUTION == 300


def test_values_reload_under_override_settings():
    assert app_settings.PUBLIC_URL == "https://saas.example.test"
    with override_settings(SCIM_PORTAL={"PUBLIC_URL": "https://other.test"}):
        assert app_settings.PUBLIC_URL == "https://other.test"
        assert app_settings.ACCOUNT_LOOKUP_FIELD == "slug"  # back to the default
    assert app_settings.PUBLIC_URL == "https://saas.example.test"


def test_unknown_attribute_is_an_error():
    with pytest.raises(AttributeError, match="NOT_A_SETTING"):
        app_settings.NOT_A_SETTING  # noqa: B018


def test_account_model_comes_from_its_setting():
    assert get_account_model() is Organization


@pytest.mark.parametrize("value", [None, "", "no_dot", "a.b.c"])
def test_malformed_account_model_setting_says_what_to_set(value):
    with (
        override_settings(SCIM_PORTAL_ACCOUNT_MODEL=value),
        pytest.raises(ImproperlyConfigured, match="SCIM_PORTAL_ACCOUNT_MODEL"),
    ):
        get_account_model()


def test_account_model_not_installed():
    with (
        override_settings(SCIM_PORTAL_ACCOUNT_MODEL="nope.Tenant"),
        pytest.raises(ImproperlyConfigured, match="not installed"),
    ):
        get_account_model()


def test_checks_pass_on_a_good_configuration():
    assert (
        check_ids(
            checks.check_settings(), checks.check_guardian_backend(), checks.check_public_url()
        )
        == []
    )


def test_check_reports_unknown_keys_and_bad_values():
    with override_settings(
        SCIM_PORTAL={"PUBLIC_URL": "saas.example", "ACCOUNT_LOOKUP_FIELD": "slug", "TYPO": 1}
    ):
        assert check_ids(checks.check_settings()) == [
            "scim_portal.E002",  # TYPO
            "scim_portal.E004",  # Organization has no "slug"
            "scim_portal.E005",  # PUBLIC_URL without scheme
        ]


@pytest.mark.parametrize("proxies", ["1", -1, 1.5, True])
def test_check_reports_a_proxy_count_that_is_not_a_whole_number(proxies):
    base = settings.SCIM_PORTAL
    with override_settings(SCIM_PORTAL={**base, "TRUSTED_PROXY_COUNT": proxies}):
        assert check_ids(checks.check_settings()) == ["scim_portal.E010"]
    with override_settings(SCIM_PORTAL={**base, "TRUSTED_PROXY_COUNT": 2}):
        assert check_ids(checks.check_settings()) == []


def test_check_reports_settings_that_are_not_a_dict():
    with override_settings(SCIM_PORTAL=["PUBLIC_URL"]):
        assert check_ids(checks.check_settings()) == ["scim_portal.E001"]


def test_check_reports_missing_account_model():
    with override_settings(SCIM_PORTAL_ACCOUNT_MODEL="nope.Tenant"):
        assert "scim_portal.E003" in check_ids(checks.check_settings())


def test_check_warns_without_guardian_backend():
    with override_settings(AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"]):
        assert check_ids(checks.check_guardian_backend()) == ["scim_portal.W001"]


def test_check_warns_without_public_url():
    with override_settings(SCIM_PORTAL={"ACCOUNT_LOOKUP_FIELD": "handle"}):
        assert check_ids(checks.check_public_url()) == ["scim_portal.W002"]
