"""Case-insensitive text that compares the same on every database.

``LOWER()`` is ASCII-only in SQLite and under PostgreSQL's C locale, and locale-
dependent elsewhere, so a name such as ``Émile`` stored through one would not be
found through the other. Case-insensitive columns therefore keep a *folded key*
computed here, in Python, on every write; equality, uniqueness, ``sw``/``co``/``ew``
and sorting compare the key with the folded literal, a plain comparison any
database does alike, through an ordinary index.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.db import models

#: No character folds to more than three (``ﬃ`` -> ``ffi``).
MAX_EXPANSION = 3


def fold(text: str) -> str:
    """``text`` for caseless comparison: Unicode's canonical caseless match (full case
    folding, ``str.casefold``, of the decomposed text), in NFC.

    A composed ``é`` and ``e`` + combining acute are one letter; ``STRASSE`` and
    ``straße`` are one word; no locale applies (``I`` folds to ``i``, ``İ`` to
    ``i̇``, the dotless i U+0131 to itself)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())


class FoldedKeyField(models.CharField):
    """``fold()`` of the field named ``source``, set whenever the row is saved (also by
    ``bulk_create``). Writes that skip ``pre_save`` — ``QuerySet.update``,
    ``bulk_update`` and ``save(update_fields=…)`` without this field — must set it
    themselves."""

    def __init__(self, *args: Any, source: str, **kwargs: Any) -> None:
        self.source = source
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        del kwargs["editable"]
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = fold(getattr(model_instance, self.source) or "")
        setattr(model_instance, self.attname, value)
        return value
