"""Accounts in URLs: how the portal and the management API name an account (below both)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest

from .conf import app_settings, get_account_model


def account_from_url(request: HttpRequest, account: str) -> Any:
    """The default resolver: the ``account`` URL segment, looked up by
    ``ACCOUNT_LOOKUP_FIELD``. Raise ``Http404`` for an unknown account."""
    model = get_account_model()
    try:
        return model._default_manager.get(**{app_settings.ACCOUNT_LOOKUP_FIELD: account})
    except model.DoesNotExist:
        raise Http404("No such account.") from None


def url_key(account: Any) -> str:
    """The URL segment of ``account``."""
    return str(getattr(account, app_settings.ACCOUNT_LOOKUP_FIELD))
