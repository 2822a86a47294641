"""Template filters of the portal: numbers and time-ago in the visitor's locale.

``{% load scim_portal %}``, then ``{{ count|number }}`` ("1,240", "1.240", "1 240") and
``{{ moment|ago }}`` ("20 minutes ago", "vor 20 Minuten").
"""

from __future__ import annotations

from django import template

from .._formats import ago, number

register = template.Library()
register.filter("number", number)
register.filter("ago", ago)
