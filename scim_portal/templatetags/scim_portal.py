"""Template filters of the portal: numbers and time-ago in the visitor's locale.

``{% load scim_portal %}``, then ``{{ count|number }}`` ("1,240", "1.240", "1 240"),
``{{ moment|ago }}`` ("20 minutes ago", "vor 20 Minuten") and ``{{ text|in_language }}``
(a sentence the service layer stored in English, in the visitor's language).
"""

from __future__ import annotations

from django import template

from .._formats import ago, number
from .._sentences import in_language

register = template.Library()
register.filter("number", number)
register.filter("ago", ago)
register.filter("in_language", in_language)
