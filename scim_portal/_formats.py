"""Numbers and time-ago in the active language: the portal's, the admin's and the
emails' one way to write them (the ``number`` and ``ago`` template filters too)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import formats, timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext, ngettext, npgettext_lazy

#: Durations as they read inside "%(time)s ago": some languages inflect them there
#: (German "vor 3 Tagen", not Django's "3 Tage").
PAST: dict[str, Any] = {
    "year": npgettext_lazy("time ago", "%(num)d year", "%(num)d years", "num"),
    "month": npgettext_lazy("time ago", "%(num)d month", "%(num)d months", "num"),
    "week": npgettext_lazy("time ago", "%(num)d week", "%(num)d weeks", "num"),
    "day": npgettext_lazy("time ago", "%(num)d day", "%(num)d days", "num"),
    "hour": npgettext_lazy("time ago", "%(num)d hour", "%(num)d hours", "num"),
    "minute": npgettext_lazy("time ago", "%(num)d minute", "%(num)d minutes", "num"),
}


def number(value: Any) -> str:
    """``value`` with the active language's digit grouping ("1,240", "1.240", "1 240");
    '' for None."""
    if value is None or value == "":
        return ""
    return str(formats.number_format(value, force_grouping=True))


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """How long before ``now`` ``moment`` was, as a sentence of the active language
    ("20 seconds ago", "vor 3 Stunden"); '' for None."""
    if moment is None:
        return ""
    now = now or timezone.now()
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 1:
        # Translators: a moment less than a second ago, e.g. "Last request: just now".
        return gettext("just now")
    if seconds < 60:
        return ngettext("%(count)s second ago", "%(count)s seconds ago", seconds) % {
            "count": number(seconds)
        }
    # Translators: %(time)s is a localised duration such as "3 hours, 5 minutes".
    return gettext("%(time)s ago") % {"time": timesince(moment, now, time_strings=PAST)}
