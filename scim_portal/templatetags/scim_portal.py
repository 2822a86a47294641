"""Template filters of the portal: numbers and time-ago in the visitor's locale.

``{% load scim_portal %}``, then ``{{ count|number }}`` ("1,240", "1.240", "1 240") and
``{{ moment|ago }}`` ("20 minutes ago", "vor 20 Minuten").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import formats, timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext

register = template.Library()


@register.filter
def number(value: Any) -> str:
    """``value`` with the thousands grouping of the active language; '' for None."""
    if value is None or value == "":
        return ""
    return formats.number_format(value, force_grouping=True)


@register.filter
def ago(value: datetime | None) -> str:
    """How long ago ``value`` was, as a sentence of the active language; '' for None."""
    if value is None:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        # Translators: a moment less than a minute ago, e.g. "Last request: just now".
        return gettext("just now")
    # Translators: %(time)s is a localised duration such as "3 hours, 5 minutes".
    return gettext("%(time)s ago") % {"time": timesince(value)}
