"""Verified email domains of an account: add, verify by DNS TXT record, remove.

A tenant admin adds a domain, publishes ``record_name`` / ``record_value`` as a DNS
TXT record and asks for a check (:func:`verify_domain`); vendor staff may vouch for
a domain instead (:func:`mark_verified`). A domain is verified for at most one
account: the database enforces it, the services say so in words.
"""

from __future__ import annotations

import re
from typing import Any

import dns.exception
import idna
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from .._sentences import Sentence
from ..conf import app_settings, get_account_model
from ..models import AccountDomain, EventType, VerificationMethod
from .events import Actor, record_account_event
from .exceptions import DomainError

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
NOT_A_DOMAIN = Sentence(gettext_noop("%(value)s is not a domain name."))


def dns_txt_lookup(name: str) -> list[str]:
    """The TXT strings published at ``name`` ([] if there are none).

    Asks ``SCIM_PORTAL["DNS_NAMESERVERS"]`` (or the system's resolver) with
    dnspython; raises :class:`dns.exception.DNSException` when DNS cannot answer.
    """
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=not app_settings.DNS_NAMESERVERS)
    if app_settings.DNS_NAMESERVERS:
        servers = []
        for server in map(str, app_settings.DNS_NAMESERVERS):
            host, _, port = server.rpartition(":") if server.count(":") == 1 else ("", "", "")
            servers.append(host or server)
            if port:
                resolver.port = int(port)
        resolver.nameservers = servers
    resolver.lifetime = float(app_settings.DNS_TIMEOUT)
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def normalize_domain(value: str) -> str:
    """``value`` as stored: stripped, lower-case, IDNA 2008-encoded (UTS #46,
    non-transitional, as browsers and registries do: ``straße.de`` is
    ``xn--strae-oqa.de``, not ``strasse.de``), no trailing dot.

    Raises ``ValueError`` when it is not a domain name with at least two labels.
    """
    text = str(value).strip().rstrip(".")
    try:
        encoded = idna.encode(text, uts46=True, transitional=False).decode("ascii")
        if idna.encode(idna.decode(encoded)).decode("ascii") != encoded:
            raise ValueError
    except (idna.IDNAError, UnicodeError, ValueError):
        raise ValueError(NOT_A_DOMAIN.english(value=repr(value))) from None
    labels = encoded.split(".")
    if len(encoded) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(x) for x in labels):
        raise ValueError(NOT_A_DOMAIN.english(value=repr(value)))
    return encoded


def domain_of(email: str) -> str | None:
    """The normalised domain of ``email``, or None when it has none."""
    _local, at, domain = str(email or "").rpartition("@")
    if not at or not domain:
        return None
    try:
        return normalize_domain(domain)
    except ValueError:
        return None


def verified_domains(account: Any) -> frozenset[str]:
    """The domains verified for ``account`` (one query)."""
    return frozenset(
        AccountDomain.objects.filter(account=account, verified_at__isnull=False).values_list(
            "domain", flat=True
        )
    )


def is_verified_for(account: Any, email: str) -> bool:
    """Whether ``email``'s domain is verified for ``account``."""
    return verified_owner(email) == account.pk


def verified_owner(email: str) -> Any | None:
    """The pk of the account ``email``'s domain is verified for, or None (one query)."""
    domain = domain_of(email)
    return None if domain is None else _owner_of_domain(domain)


def _owner_of_domain(domain: str) -> Any | None:
    """The pk of the account ``domain`` is verified for: there is at most one."""
    owners = AccountDomain.objects.filter(domain=domain, verified_at__isnull=False)
    return owners.values_list("account_id", flat=True).first()


def owner_of_email(directory_user: Any) -> Any | None:
    """:func:`verified_owner` of ``directory_user.email``, asked once per email and kept
    on the instance: a create asks it for its policy, its link and its profile copy."""
    known = directory_user.__dict__.get("_verified_owner")
    if known is None or known[0] != directory_user.email:
        known = (directory_user.email, verified_owner(directory_user.email))
        directory_user.__dict__["_verified_owner"] = known
    return known[1]


# Services

TAKEN = Sentence(gettext_noop("%(domain)s is already verified by another account."))
ADDED = Sentence(gettext_noop("%(domain)s is already added to this account."))
REMOVED = Sentence(gettext_noop("%(domain)s was removed from this account."))
# Why a check did not verify a domain.
NO_ANSWER = Sentence(
    gettext_noop(
        "DNS did not answer in time for %(name)s. This is usually temporary; check again "
        "in a few minutes."
    )
)
DNS_ERROR = Sentence(
    gettext_noop(
        "DNS could not answer for %(name)s (its servers returned an error). This is usually "
        "temporary; check again in a few minutes."
    )
)
NO_RECORD = Sentence(
    gettext_noop(
        "No TXT record was found at %(name)s. Publish it at your DNS provider; a new record "
        "can take a few minutes to be visible."
    )
)
OTHER_VALUE = Sentence(
    gettext_noop(
        "A TXT record exists at %(name)s, but none holds %(value)s. Check that the value "
        "was copied exactly."
    )
)
REASON_LENGTH = 500  # of AccountDomain.last_check_error


def check_new_domain(account: Any, value: str) -> str:
    """``value`` normalised, if it may be added to ``account``.

    Raises :class:`DomainError` when it is not a domain name, is already added to
    ``account``, or is verified by another account.
    """
    try:
        domain = normalize_domain(value)
    except ValueError as exc:
        raise DomainError(str(exc)) from None
    if AccountDomain.objects.filter(account=account, domain=domain).exists():
        raise DomainError(ADDED.english(domain=domain))
    if _verified_elsewhere(domain, account.pk):
        raise DomainError(TAKEN.english(domain=domain))
    return domain


@transaction.atomic
def add_domain(account: Any, domain: str, *, actor: Actor, created_by: Any = None) -> AccountDomain:
    """Add ``domain`` to ``account``, not verified yet, with its own verification token.

    Publish the result's ``record_name`` / ``record_value`` as a TXT record, then call
    :func:`verify_domain`. ``created_by`` defaults to the actor's user. Raises
    :class:`DomainError` (see :func:`check_new_domain`).
    """
    _lock_account(account.pk)
    name = check_new_domain(account, domain)
    if created_by is None and actor.kind == "user":
        created_by = actor.user
    try:
        with transaction.atomic():
            row = AccountDomain.objects.create(
                account=account,
                domain=name,
                verification_token=AccountDomain.generate_token(),
                created_by=created_by,
            )
    except IntegrityError:
        raise DomainError(ADDED.english(domain=name)) from None
    record_account_event(
        account, EventType.DOMAIN_ADDED, "Domain", row.pk, {"domain": name}, actor=actor
    )
    return row


def verify_domain(domain: AccountDomain, *, actor: Actor) -> bool:
    """Check ``domain``'s TXT record now; True if it is (or already was) verified.

    Looks ``record_name`` up through ``SCIM_PORTAL["DOMAIN_TXT_LOOKUP"]`` and passes
    when one of its strings is ``record_value``; then records ``verified_at``,
    ``verified_by`` (a person actor's user) and the method "dns", with an event. A
    failed check is an answer, not an error: it returns False and keeps the reason in
    ``last_check_error`` (no record, another value, DNS did not answer, verified by
    another account). ``domain`` is updated in place.
    """
    if domain.is_verified:
        return True
    if _verified_elsewhere(domain.domain, domain.account_id):
        reason = TAKEN.english(domain=domain.domain)
    else:
        # Outside any transaction: DNS may take DNS_TIMEOUT seconds.
        reason = _txt_record_problem(domain)
    verified = _record_check(domain, reason, actor=actor)
    if verified:
        _link_its_people(domain, actor)
    return verified


def _link_its_people(domain: AccountDomain, actor: Actor) -> None:
    """Directory users who were waiting because their domain was not verified."""
    from .users import link_pending_users  # users imports this module

    link_pending_users(domain.account, domain.domain, actor=actor)


def mark_verified(domain: AccountDomain, *, actor: Actor) -> bool:
    """Verify ``domain`` without DNS, for vendor staff who checked ownership another way
    (method "staff", with an event). Returns False if it already was verified; raises
    :class:`DomainError` when another account has verified it. ``domain`` is updated
    in place."""
    marked = _mark_verified(domain, actor=actor)
    if marked:
        _link_its_people(domain, actor)
    return marked


@transaction.atomic
def _mark_verified(domain: AccountDomain, *, actor: Actor) -> bool:
    _lock_account(domain.account_id)
    row = _fresh(domain)
    marked = not row.is_verified
    if marked:
        _set_verified(row, actor=actor, method=VerificationMethod.STAFF)
    _copy_state(row, domain)
    return marked


@transaction.atomic
def remove_domain(domain: AccountDomain, *, actor: Actor) -> None:
    """Remove ``domain`` from its account (verified or not), with an event. Its people
    can no longer be claimed through it; adding it again needs a new TXT record."""
    _lock_account(domain.account_id)
    row = AccountDomain.objects.select_related("account").filter(pk=domain.pk).first()
    if row is None:
        return
    pk, status = row.pk, "verified" if row.is_verified else "not verified"
    row.delete()
    record_account_event(
        row.account,
        EventType.DOMAIN_REMOVED,
        "Domain",
        pk,
        {"domain": row.domain, "status": {"old": status, "new": "removed"}},
        actor=actor,
    )


def _lock_account(account_pk: Any) -> None:
    """Hold the account's row until the transaction ends. Changes of one account's
    domains then commit one after another, so its account events get ids in commit
    order (the events API pages with ``after=<id>``). A no-op on SQLite."""
    model = get_account_model()
    list(model._default_manager.select_for_update().filter(pk=account_pk).values_list("pk"))


def _verified_elsewhere(domain: str, account_pk: Any) -> bool:
    owner = _owner_of_domain(domain)
    return owner is not None and owner != account_pk


def _txt_record_problem(domain: AccountDomain) -> str:
    """Why ``domain``'s TXT record does not prove ownership ("" if it does)."""
    name = domain.record_name
    try:
        values = list(app_settings.DOMAIN_TXT_LOOKUP(name))
    except dns.exception.Timeout:
        return NO_ANSWER.english(name=name)
    except (dns.exception.DNSException, OSError):
        return DNS_ERROR.english(name=name)
    if not values:
        return NO_RECORD.english(name=name)
    # Some DNS consoles keep the quotes typed around the value: they are not part of it.
    if domain.record_value not in {str(value).strip().strip('"') for value in values}:
        return OTHER_VALUE.english(name=name, value=domain.record_value)
    return ""


@transaction.atomic
def _record_check(domain: AccountDomain, reason: str, *, actor: Actor) -> bool:
    _lock_account(domain.account_id)
    row = _fresh(domain)
    if not row.is_verified:
        row.last_checked_at = timezone.now()
        if not reason:
            try:
                _set_verified(row, actor=actor, method=VerificationMethod.DNS)
            except DomainError as exc:
                reason = str(exc)
        row.last_check_error = reason[:REASON_LENGTH]
        row.save(update_fields=["last_checked_at", "last_check_error"])
    _copy_state(row, domain)
    return row.is_verified


def _set_verified(row: AccountDomain, *, actor: Actor, method: str) -> None:
    """Mark ``row`` verified, or raise DomainError if another account has it (checked,
    and enforced by the database for writers that race)."""
    if _verified_elsewhere(row.domain, row.account_id):
        raise DomainError(TAKEN.english(domain=row.domain))
    values = {
        "verified_at": timezone.now(),
        "verified_by": actor.user if actor.kind == "user" else None,
        "verification_method": method,
        "last_check_error": "",
    }
    try:
        with transaction.atomic():
            AccountDomain.objects.filter(pk=row.pk).update(**values)
    except IntegrityError:
        raise DomainError(TAKEN.english(domain=row.domain)) from None
    for field, value in values.items():
        setattr(row, field, value)
    record_account_event(
        row.account,
        EventType.DOMAIN_VERIFIED,
        "Domain",
        row.pk,
        {
            "domain": row.domain,
            "method": method,
            "status": {"old": "not verified", "new": "verified"},
        },
        actor=actor,
    )


def _fresh(domain: AccountDomain) -> AccountDomain:
    try:
        return AccountDomain.objects.select_related("account").get(pk=domain.pk)
    except AccountDomain.DoesNotExist:
        raise DomainError(REMOVED.english(domain=domain.domain)) from None


_STATE = ("verified_at", "verified_by_id", "verification_method", "last_checked_at",
          "last_check_error")  # fmt: skip


def _copy_state(source: AccountDomain, target: AccountDomain) -> None:
    for field in _STATE:
        setattr(target, field, getattr(source, field))
