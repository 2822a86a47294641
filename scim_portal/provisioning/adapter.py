"""The host application's side of provisioning.

The provisioning services call the adapter named by ``SCIM_PORTAL["ADAPTER"]``
once per lifecycle event, inside the transaction of the directory change. If a
method raises, the change is rolled back, nothing is written, and the identity
provider gets a SCIM 500 (it retries); the request log shows the failure.

The default adapter creates or links host users (``AUTH_USER_MODEL``) and keeps
their membership of the connection's account through the small
:class:`AccountMemberships` hook the host implements and names in
``SCIM_PORTAL["MEMBERSHIPS"]``.
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured

from ..conf import app_settings, reload_hooks
from ..models import DeprovisionPolicy, HostLink
from .domains import owner_of_email
from .ownership import (
    decide,
    email_taken,
    has_membership,
    manages,
    should_invite,
    users_with_email,
)

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ..models import Connection, DirectoryGroup, DirectoryUser


class AccountMemberships:
    """How users belong to accounts in the host application, with a role.

    Subclass it, implement the methods that raise ``NotImplementedError``, and
    name the class in ``SCIM_PORTAL["MEMBERSHIPS"]``. Methods run inside the
    provisioning transaction; raise to refuse the change.
    """

    def roles(self, account: Any) -> list[tuple[str, str]]:
        """``(key, label)`` of the roles a member of ``account`` can have."""
        return []

    def add(self, account: Any, user: Any, *, role: str, active: bool) -> None:
        """Make ``user`` a member of ``account`` with ``role`` (create or update)."""
        raise NotImplementedError

    def set_active(self, account: Any, user: Any, active: bool) -> None:
        """Activate or deactivate ``user``'s membership of ``account``."""
        raise NotImplementedError

    def set_role(self, account: Any, user: Any, role: str) -> None:
        """Give ``user`` the role ``role`` ("" for none) in ``account``."""
        raise NotImplementedError

    def remove(self, account: Any, user: Any) -> None:
        """End ``user``'s membership of ``account``."""
        raise NotImplementedError

    def has_other_active_memberships(self, account: Any, user: Any) -> bool:
        """Whether ``user`` is an active member of any account but ``account``."""
        raise NotImplementedError

    def members(self, account: Any) -> QuerySet[Any, Any] | None:
        """``account``'s memberships as a queryset of dicts (``.values()``) with the keys
        ``host_user`` (the user's primary key), ``host_role`` (text) and ``host_active``.

        The drift report reads it inside its SQL, so it stays fast at any size. The
        default, None, says the host cannot tell: the report then shows only what the
        directory knows (docs/provisioning.md, "Drift report").
        """
        return None

    def active_elsewhere(self, account: Any) -> QuerySet[Any, Any] | None:
        """The primary keys of host users with an active membership of an account other
        than ``account``, as a one-column queryset (``.values("user_id")``): the set-based
        twin of :meth:`has_other_active_memberships`.

        The dry runs of approving held removals and of deleting a connection read it
        inside their SQL, so they stay fast at any size. The default, None, makes them
        ask :meth:`has_other_active_memberships` once per person instead.
        """
        return None

    def stored_role(self, role: str) -> str:
        """The role :meth:`add` and :meth:`set_role` store when given ``role`` (a host
        that stores a fallback for "" says so here); what drift compares against."""
        return role

    def find_user_by_email(self, email: str, account: Any) -> Any | None:
        """The host user who owns ``email``, if there is exactly one, or None.

        Called when a directory user of ``account``'s connection arrives with
        ``email``. The default trusts the user model's email field; a host that
        verifies addresses (django-allauth's ``EmailAddress.verified``) should look
        there. Whatever this returns, the connection claims that person only under
        the ownership rules (verified domain, managed by no other connection, not
        staff): otherwise they are invited (:meth:`invite`) and nobody is linked.
        """
        legacy = type(self).find_user_by_verified_email
        if legacy is not AccountMemberships.find_user_by_verified_email:
            warnings.warn(
                f"{type(self).__name__}.find_user_by_verified_email(email) is deprecated and "
                "will not be called in the next release: implement "
                "find_user_by_email(email, account) instead.",
                DeprecationWarning,
                stacklevel=2,
            )
            return self.find_user_by_verified_email(email)
        matches = users_with_email(email)
        return matches[0] if len(matches) == 1 else None

    def find_user_by_verified_email(self, email: str) -> Any | None:
        """Deprecated: implement :meth:`find_user_by_email`, which gets the account."""
        matches = users_with_email(email)
        return matches[0] if len(matches) == 1 else None

    def invite(self, account: Any, user: Any, directory_user: DirectoryUser) -> None:
        """``user`` owns the email of ``directory_user`` but the connection may not
        claim them (their domain is not verified for ``account``, or another
        connection manages them). Invite them to join ``account``; when they accept,
        call :func:`scim_portal.provisioning.ownership.accept_invitation`. The
        default does nothing: the directory user waits, shown in the portal.
        """

    def create_user(self, directory_user: DirectoryUser) -> Any:
        """A new host user for ``directory_user`` (no usable password: they sign in by SSO)."""
        model = get_user_model()
        username_field = model._meta.get_field(model.USERNAME_FIELD)
        limit = getattr(username_field, "max_length", None) or 150
        base = directory_user.user_name[:limit]
        username, suffix = base, 1
        manager = model._default_manager
        while manager.filter(**{f"{model.USERNAME_FIELD}__iexact": username}).exists():
            suffix += 1
            username = f"{base[: limit - len(str(suffix)) - 1]}-{suffix}"
        user = model(**{model.USERNAME_FIELD: username})
        _copy_profile(directory_user, user, email_free=True)
        user.set_unusable_password()
        user.save()
        return user


def _copy_profile(
    directory_user: DirectoryUser, user: Any, *, email_free: bool = False
) -> list[str]:
    """Copy email and names onto the host user; the names of the fields changed.

    An email another host user already has is not copied: that would give two
    people one address (and one of them the other's password resets). Nor is one on
    a domain another account verified: that account's people are its own to provision.
    """
    name = directory_user.attributes.get("name") or {}
    wanted = {
        "first_name": name.get("givenName") or "",
        "last_name": name.get("familyName") or "",
    }
    email = directory_user.email
    email_field = user.get_email_field_name()
    if email and getattr(user, email_field, None) == email:
        # Already theirs: nothing to copy, so nobody to ask who else holds it.
        email = ""
    owner = owner_of_email(directory_user) if email else None
    if (
        email
        and owner in {None, directory_user.connection.account_id}
        and (email_free or not email_taken(email, by_other_than=user))
    ):
        wanted[email_field] = email
    changed = []
    for field, value in wanted.items():
        if not hasattr(user, field):
            continue
        try:
            limit = user._meta.get_field(field).max_length
        except FieldDoesNotExist:
            continue
        value = (value or "")[: limit or None]
        if getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    return changed


class ProvisioningAdapter:
    """Hooks called for every directory change; override what your host needs.

    Every method runs inside the transaction of the change, after the directory
    row is written (before it is deleted, for deletions). Raise any exception to
    refuse the change.
    """

    def user_creating(self, user: DirectoryUser) -> None:
        """A user is about to be provisioned: its row is not written yet (and is not, if
        its userName turns out to be taken). What this sets on ``user`` (say its
        ``host_user``) is written with the row; :meth:`user_created` follows."""

    def user_created(self, user: DirectoryUser) -> None:
        """A user was provisioned (``user.role`` is already set)."""

    def user_updated(self, user: DirectoryUser, changes: dict[str, Any]) -> None:
        """Attributes other than ``active`` changed: ``{"path": {"old", "new"}}``."""

    def user_deactivated(self, user: DirectoryUser) -> None:
        """``active`` became false."""

    def user_reactivated(self, user: DirectoryUser) -> None:
        """``active`` became true again."""

    def user_deleted(self, user: DirectoryUser) -> None:
        """The user is about to be deleted from the directory."""

    def group_created(self, group: DirectoryGroup) -> None:
        """A group was provisioned."""

    def group_updated(self, group: DirectoryGroup, changes: dict[str, Any]) -> None:
        """A group's attributes (not its members) changed."""

    def group_deleted(self, group: DirectoryGroup) -> None:
        """The group is about to be deleted."""

    def members_added(self, group: DirectoryGroup, user_ids: set[Any]) -> None:
        """Users joined ``group``."""

    def members_removed(self, group: DirectoryGroup, user_ids: set[Any]) -> None:
        """Users left ``group``."""

    def roles_changed(self, user: DirectoryUser, old: str, new: str) -> None:
        """The role the directory gives ``user`` changed (from role mappings)."""

    def user_restored(self, user: DirectoryUser) -> None:
        """A tenant admin restored ``user`` after the IdP deleted it (its row is back, with
        its host link; one that awaited a person awaits nobody yet: the default links it
        again); its group memberships follow through :meth:`members_added`."""

    def link_pending(self, user: DirectoryUser) -> None:
        """``user`` is not linked to a host user yet, and may be now: a domain of its
        account was just verified. Link it if the ownership rules allow."""

    def user_imported(self, user: DirectoryUser) -> None:
        """``user`` was imported from the service provider that served the directory
        before (``scim_portal import-django-scim2``), already linked to the host user it
        was (``user.host_user`` and ``user.host_link``: none for a person the ownership
        rules keep out). That host user is as the provider left it; make the rest of the
        host agree (the default adapter keeps its account membership)."""

    def group_imported(self, group: DirectoryGroup, user_ids: set[Any]) -> None:
        """``group`` was imported with the directory users ``user_ids`` as members."""

    def connection_deleted(self, connection: Connection, *, remove_directory: bool) -> None:
        """``connection`` is about to be deleted (after its users were handled)."""

    def list_roles(self, account: Any) -> list[tuple[str, str]]:
        """``(key, label)`` of the host roles a role mapping can give."""
        return []


class DefaultProvisioningAdapter(ProvisioningAdapter):
    """Host users from ``AUTH_USER_MODEL``, account memberships through the hook,
    under the ownership rules of :mod:`~scim_portal.provisioning.ownership`:

    - a new directory user gets a new host user, or claims the existing one with
      its email when the link policy and the ownership rules allow it; when the
      email belongs to someone it may not claim, nobody is linked and no duplicate
      is created: the person is invited (``AccountMemberships.invite``) and the
      directory user awaits them. Linked people become members of the account;
    - updates copy email and names onto a host user the connection manages (linked
      by SCIM id, so an email change never creates a second user);
    - deactivation deactivates the membership at once, and a managed host user
      when it has no other active membership; reactivation restores both;
    - deletion deactivates or removes the membership per the deprovision policy.
    """

    @property
    def memberships(self) -> AccountMemberships | None:
        return get_memberships()

    def user_creating(self, user: DirectoryUser) -> None:
        # The host user is chosen (or made) before the directory row is written, so the
        # row is written once with its link. Not when a subclass has its own
        # user_created or _link: that one decides whether and how to link (it may not).
        kind = type(self)
        if (
            kind.user_created is DefaultProvisioningAdapter.user_created
            and kind._link is DefaultProvisioningAdapter._link
        ):
            self._choose_host(user)

    def user_created(self, user: DirectoryUser) -> None:
        if user.__dict__.pop("_host_chosen", False):
            self._join(user, awaited_before=None)
        else:
            self._link(user)

    def user_updated(self, user: DirectoryUser, changes: dict[str, Any]) -> None:
        host = user.host_user
        if not has_membership(user):
            if any(path.lower().startswith("emails") for path in changes):
                self._link(user)  # a new email may belong to someone else, or to nobody
        elif host is not None and manages(user) and _copy_profile(user, host):
            host.save()

    def link_pending(self, user: DirectoryUser) -> None:
        self._link(user)

    def user_imported(self, user: DirectoryUser) -> None:
        if has_membership(user) and self.memberships is not None:
            self.memberships.add(
                user.connection.account,
                user.host_user,
                role=user.role,
                active=user.active is not False,
            )

    def _link(self, user: DirectoryUser) -> None:
        """Link ``user`` to the host per :func:`~.ownership.decide`, and record how
        (``user.claimed`` when an existing host user was claimed)."""
        awaited_before = user.awaited_user_id
        self._choose_host(user)
        del user.__dict__["_host_chosen"]
        user.save(update_fields=["host_user", "host_link", "awaited_user"])
        self._join(user, awaited_before)

    def _choose_host(self, user: DirectoryUser) -> None:
        """Set ``user``'s host user, link and awaited person per
        :func:`~.ownership.decide`, making a host user if it is to have a new one; nothing
        of ``user`` is saved."""
        hook = self.memberships or AccountMemberships()
        link = decide(user, hook)
        host = link.host_user
        user.claimed = host is not None
        if link.link == HostLink.MANAGED and host is None:
            host = hook.create_user(user)
        user.host_user, user.host_link, user.awaited_user = host, link.link, link.awaited
        user.__dict__["_host_chosen"] = True

    def _join(self, user: DirectoryUser, awaited_before: Any) -> None:
        """Invite the person ``user`` awaits (unless already awaited), or make its host
        user a member of the account."""
        connection = user.connection
        if user.host_link == HostLink.AWAITING:
            awaited = user.awaited_user
            if (
                awaited is not None
                and awaited.pk != awaited_before
                and should_invite(connection.account, awaited)
            ):
                (self.memberships or AccountMemberships()).invite(connection.account, awaited, user)
        elif user.host_user is not None and self.memberships is not None:
            self.memberships.add(
                connection.account, user.host_user, role=user.role, active=user.active is not False
            )

    def user_deactivated(self, user: DirectoryUser) -> None:
        self._deactivate(user)

    def user_reactivated(self, user: DirectoryUser) -> None:
        host = user.host_user
        if host is None or not has_membership(user):
            return
        if self.memberships is not None:
            self.memberships.set_active(user.connection.account, host, True)
        if manages(user) and not host.is_active:
            host.is_active = True
            host.save(update_fields=["is_active"])

    def user_deleted(self, user: DirectoryUser) -> None:
        host = user.host_user
        if host is None or not has_membership(user):
            return
        if self.memberships is not None and (
            user.connection.deprovision_policy == DeprovisionPolicy.REMOVE
        ):
            self.memberships.remove(user.connection.account, host)
            self._deactivate_host_if_alone(user)
        else:
            self._deactivate(user)

    def user_restored(self, user: DirectoryUser) -> None:
        if user.host_link == HostLink.AWAITING:
            # The kept copy does not say whom it awaited: chosen again by the same rules
            # (the invitation is not sent twice within a day: should_invite).
            self._link(user)
            return
        host = user.host_user
        if host is None or not has_membership(user):
            return
        active = user.active is not False
        if self.memberships is not None:
            self.memberships.add(user.connection.account, host, role=user.role, active=active)
        if active and manages(user) and not host.is_active:
            host.is_active = True
            host.save(update_fields=["is_active"])

    def roles_changed(self, user: DirectoryUser, old: str, new: str) -> None:
        if has_membership(user) and self.memberships is not None:
            self.memberships.set_role(user.connection.account, user.host_user, new)

    def list_roles(self, account: Any) -> list[tuple[str, str]]:
        return self.memberships.roles(account) if self.memberships is not None else []

    def _deactivate(self, user: DirectoryUser) -> None:
        if not has_membership(user):
            return
        if self.memberships is not None:
            self.memberships.set_active(user.connection.account, user.host_user, False)
        self._deactivate_host_if_alone(user)

    def _deactivate_host_if_alone(self, user: DirectoryUser) -> None:
        """Deactivate a host user the connection manages, unless it is an active
        member of another account."""
        host = user.host_user
        if host is None or not manages(user):
            return
        others = (
            self.memberships.has_other_active_memberships(user.connection.account, host)
            if self.memberships is not None
            else False
        )
        if not others and host.is_active:
            host.is_active = False
            host.save(update_fields=["is_active"])


@cache
def get_adapter() -> ProvisioningAdapter:
    """The adapter named by ``SCIM_PORTAL["ADAPTER"]``."""
    adapter_class = app_settings.ADAPTER
    if not (isinstance(adapter_class, type) and issubclass(adapter_class, ProvisioningAdapter)):
        raise ImproperlyConfigured(
            'SCIM_PORTAL["ADAPTER"] must name a subclass of '
            "scim_portal.provisioning.adapter.ProvisioningAdapter."
        )
    return adapter_class()


@cache
def get_memberships() -> AccountMemberships | None:
    """The hook named by ``SCIM_PORTAL["MEMBERSHIPS"]``, or None."""
    hook_class = app_settings.MEMBERSHIPS
    if hook_class is None:
        return None
    if not (isinstance(hook_class, type) and issubclass(hook_class, AccountMemberships)):
        raise ImproperlyConfigured(
            'SCIM_PORTAL["MEMBERSHIPS"] must name a subclass of '
            "scim_portal.provisioning.adapter.AccountMemberships."
        )
    return hook_class()


def _reset() -> None:
    get_adapter.cache_clear()
    get_memberships.cache_clear()


reload_hooks.append(_reset)
