"""A group's members as IdPs list them: ``[{"value": "<user id>", "display": "…"}]``."""

from __future__ import annotations

from typing import Any

from .exceptions import InvalidValue


def listed_members(value: Any) -> list[tuple[str, str | None]]:
    """``(user id, display or None)`` of each member a ``members`` value lists: a list
    of ``{"value": id, "display": …}`` objects, one such object, or a resource body
    holding ``members``; :class:`InvalidValue` for anything else."""
    if isinstance(value, dict) and "value" not in {k.lower() for k in value}:
        value = next((v for k, v in value.items() if k.lower() == "members"), [])
    if value is None:
        value = []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise InvalidValue('\'members\' must be a list of {"value": "<user id>"} objects.')
    listed = []
    for member in value:
        item = {k.lower(): v for k, v in member.items()} if isinstance(member, dict) else {}
        if not isinstance(item.get("value"), str):
            raise InvalidValue("Each member needs a 'value' with the user's id.")
        display = item.get("display")
        listed.append((item["value"], display if isinstance(display, str) else None))
    return listed
