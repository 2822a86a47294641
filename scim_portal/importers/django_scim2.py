"""The directory a django-scim2 service provider serves, read for an import.

django-scim2 serves the host's own user and group models through adapters
(``SCIM_SERVICE_PROVIDER["USER_ADAPTER"]`` and ``["GROUP_ADAPTER"]``), and each adapter's
``to_dict()`` is the resource it served to the identity provider. This module reads
exactly that, with the querysets django-scim2's list views use (its
``GET_EXTRA_MODEL_FILTER_KWARGS_GETTER``, ``…_EXCLUDE_…`` and
``GET_QUERYSET_POST_PROCESSOR_GETTER``), so custom models and custom adapters are read as
they were served. It runs in the host process, where django-scim2 is installed and
configured and its URLs are mounted (its adapters build each resource's location from
them). Each resource becomes the document this app stores, validated as if the identity
provider had sent it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.dateparse import parse_datetime

from ..provisioning.imports import PROTECTED, ImportedGroup, ImportedUser, ImportReport
from ..provisioning.ownership import is_protected
from ..scim.exceptions import ScimError
from ..scim.resources import GROUPS, USERS

#: ``Connection.imported_from`` of a connection this module's directory filled.
SOURCE = "django-scim2"
#: Keys of a multi-valued item that say nothing on their own: an item with only these
#: (django-scim2 serves ``{"value": "", "primary": true}`` for a user without email)
#: is left out.
EMPTY_ITEM_KEYS = frozenset({"primary", "type", "display"})


class SourceUnavailable(Exception):
    """django-scim2 is not installed or configured here: the message says what to do."""


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def cleaned(value: Any) -> Any:
    """``value`` without empty strings, objects and lists (django-scim2 serves ``""`` for
    what is unset: an absent ``externalId``, a blank name), nor multi-valued items left
    with nothing but ``primary``/``type``/``display``."""
    if isinstance(value, dict):
        fields = {key: cleaned(item) for key, item in value.items()}
        return {key: item for key, item in fields.items() if not _empty(item)}
    if isinstance(value, list):
        items = [cleaned(item) for item in value]
        return [
            item
            for item in items
            if not _empty(item) and not (isinstance(item, dict) and item.keys() <= EMPTY_ITEM_KEYS)
        ]
    return value


def _date(meta: Any, key: str) -> Any:
    value = meta.get(key) if isinstance(meta, dict) else None
    try:
        return parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None


class DjangoScim2:
    """The users and groups django-scim2 serves in this process.

    ``request_user`` is the host user django-scim2's requests carry while reading, for a
    host whose ``GET_EXTRA_MODEL_FILTER_KWARGS_GETTER`` scopes the directory by the
    authenticated user (one tenant's identity provider); anonymous by default.
    """

    def __init__(self, request_user: Any = None) -> None:
        try:
            from django_scim import utils
            from django_scim.settings import scim_settings
        except ImportError:
            raise SourceUnavailable(
                "django-scim2 is not installed here (no module django_scim). The import "
                "reads the directory through django-scim2's own adapters: run it in the "
                "application that serves django-scim2, with its SCIM_SERVICE_PROVIDER "
                "settings and URLs in place."
            ) from None
        self.utils = utils
        try:
            netloc = str(scim_settings.NETLOC)
            self.user_model = utils.get_user_model()
            self.group_model = utils.get_group_model()
            self.user_adapter = utils.get_user_adapter()
            self.group_adapter = utils.get_group_adapter()
        except (AttributeError, ImportError) as exc:
            raise SourceUnavailable(
                f"django-scim2 is not configured: {exc} (settings.SCIM_SERVICE_PROVIDER)."
            ) from exc
        if self.user_model is not get_user_model():
            raise SourceUnavailable(
                f"django-scim2 serves {self.user_model._meta.label}, not AUTH_USER_MODEL "
                f"({get_user_model()._meta.label}): its users cannot be linked to host users."
            )
        self.request = HttpRequest()
        self.request.method = "GET"
        host, _, port = netloc.partition(":")
        self.request.META = {
            "HTTP_HOST": netloc,
            "SERVER_NAME": host,
            "SERVER_PORT": port or ("443" if scim_settings.SCHEME == "https" else "80"),
        }
        self.request.user = request_user if request_user is not None else AnonymousUser()
        try:
            for adapter in (self.user_adapter, self.group_adapter):
                if getattr(adapter, "url_name", None):
                    reverse(adapter.url_name)
        except NoReverseMatch as exc:
            raise SourceUnavailable(
                "django-scim2's URLs are not mounted (namespace 'scim'): keep them in the "
                "URLconf during the import, its adapters build each resource's location "
                f"from them ({exc})."
            ) from exc

    def _queryset(self, model: Any) -> QuerySet[Any]:
        """``model``'s rows as django-scim2's list view serves them, by primary key."""
        request, utils = self.request, self.utils
        queryset = model._default_manager.filter(
            **utils.get_extra_model_filter_kwargs_getter(model)(request)
        ).exclude(**utils.get_extra_model_exclude_kwargs_getter(model)(request))
        queryset = utils.get_queryset_post_processor_getter(model)(request, queryset)
        return queryset.order_by("pk")  # type: ignore[no-any-return]

    def count_users(self) -> int:
        return self._queryset(self.user_model).count()

    def count_groups(self) -> int:
        return self._queryset(self.group_model).count()

    def _batches(self, model: Any, size: int) -> Iterator[list[Any]]:
        """Rows of ``model`` in batches of ``size``, paged by primary key (memory stays
        flat whatever the directory's size)."""
        queryset = self._queryset(model)
        last = None
        while True:
            page = queryset if last is None else queryset.filter(pk__gt=last)
            rows = list(page[:size])
            if not rows:
                return
            yield rows
            last = rows[-1].pk

    def users(self, report: ImportReport, size: int = 500) -> Iterator[list[ImportedUser]]:
        """The users, in batches of ``size``; one that does not validate is recorded in
        ``report`` as skipped."""
        for rows in self._batches(self.user_model, size):
            batch = []
            for obj in rows:
                adapter = self.user_adapter(obj, self.request)
                if is_protected(obj):  # not even read: their names stay here
                    report.skip("user", adapter.id, obj.get_username(), PROTECTED)
                    continue
                served = adapter.to_dict()
                source_id = str(served.get("id"))
                try:
                    document = USERS.parse(cleaned(served))
                except ScimError as exc:
                    report.skip("user", source_id, str(served.get("userName", "")), str(exc.detail))
                    continue
                meta = served.get("meta")
                batch.append(
                    ImportedUser(
                        source_id,
                        document,
                        host_user=obj,
                        created=_date(meta, "created"),
                        last_modified=_date(meta, "lastModified"),
                    )
                )
            yield batch

    def groups(self, report: ImportReport, size: int = 50) -> Iterator[list[ImportedGroup]]:
        """The groups with their members' ids, in batches of ``size``."""
        for rows in self._batches(self.group_model, size):
            batch = []
            for obj in rows:
                served = self.group_adapter(obj, self.request).to_dict()
                source_id = str(served.get("id"))
                members = tuple(
                    str(member["value"])
                    for member in served.get("members") or []
                    if isinstance(member, dict) and member.get("value") not in (None, "")
                )
                try:
                    document = GROUPS.parse(cleaned(served))
                except ScimError as exc:
                    name = str(served.get("displayName", ""))
                    report.skip("group", source_id, name, str(exc.detail))
                    continue
                meta = served.get("meta")
                batch.append(
                    ImportedGroup(
                        source_id,
                        document,
                        members,
                        created=_date(meta, "created"),
                        last_modified=_date(meta, "lastModified"),
                    )
                )
            yield batch
