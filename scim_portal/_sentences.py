"""Sentences the service layer writes in English and people read in their language.

A held removal's reason, a domain check's error and a request's warning are stored, and
the service layer's refusals (``CannotFix``, ``DomainError`` …) are raised, in English:
the API, the CLI and the events keep them so. Each is declared once as a
:class:`Sentence` (its words marked for the catalogs with ``gettext_noop``, values as
``%(name)s``); the writer calls :meth:`Sentence.english`, and the portal and the emails
show what was written through :func:`in_language` (the ``in_language`` template filter),
which recognises every declared sentence in it and translates it, its numbers in the
reader's format. Anything else is shown as it was written.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext

from ._formats import number

_TOKEN = re.compile(r"%\((\w+)\)s|%%")
_DECLARED: list[Sentence] = []


class Sentence:
    """One sentence of the service layer, e.g. ``Sentence(gettext_noop("%(domain)s is
    already verified by another account."))``; ``numbers`` names the values shown in the
    reader's number format."""

    def __init__(self, words: str, *, numbers: tuple[str, ...] = ()) -> None:
        self.words = words
        self.numbers = numbers
        pattern, at = [], 0
        for token in _TOKEN.finditer(words):
            pattern.append(re.escape(words[at : token.start()]))
            name = token.group(1)
            # A value is everything up to the words that follow it.
            pattern.append(f"(?P<{name}>.+?)" if name else "%")
            at = token.end()
        pattern.append(re.escape(words[at:]))
        self.pattern = re.compile("".join(pattern), re.DOTALL)
        _DECLARED.append(self)

    def english(self, **values: Any) -> str:
        """The sentence with ``values``, as stored and as the API says it."""
        return self.words % values

    def _translated(self, found: re.Match[str]) -> str:
        values = {
            name: number(int(value)) if name in self.numbers and value.isdecimal() else value
            for name, value in found.groupdict().items()
        }
        return gettext(self.words) % values


def in_language(text: str) -> str:
    """``text`` with each declared sentence in it in the active language."""
    if not text:
        return text
    for sentence in _DECLARED:
        text = sentence.pattern.sub(sentence._translated, text)
    return text
