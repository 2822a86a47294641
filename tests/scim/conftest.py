import pytest

BADGE = "urn:example:params:scim:schemas:extension:badge:2.0:User"


@pytest.fixture
def badge_extension(settings):
    """Users carry the test host's badge extension, with its write-only ``pin`` and
    ``locker.combination`` (tests/testapp/scim.py); its schema URN."""
    settings.SCIM_PORTAL = {
        **settings.SCIM_PORTAL,
        "USER_EXTENSIONS": ["scim2_models.EnterpriseUser", "tests.testapp.scim.BadgeExtension"],
    }
    return BADGE
