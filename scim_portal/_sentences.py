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

from django.utils.translation import get_language, gettext

from ._formats import number

_DECLARED: list[Sentence] = []


class Sentence:
    """One sentence of the service layer, e.g. ``Sentence(gettext_noop("%(domain)s is
    already verified by another account."))``; ``numbers`` names the values shown in the
    reader's number format."""

    def __init__(self, words: str, *, numbers: tuple[str, ...] = ()) -> None:
        self.words = words
        self.numbers = numbers
        # The words between the values ("%%" is a "%" of them), then each value's name.
        literal, names = [""], []
        for part in re.split(r"(%\(\w+\)s)", words.replace("%%", "%")):
            if part.startswith("%(") and part.endswith(")s"):
                names.append(part[2:-2])
                literal.append("")
            else:
                literal[-1] += part
        if not all(literal[1:]):
            raise ValueError(f"Words must follow each value: {words!r}")
        #: The sentence's own words: all are in a text it is in.
        self.pieces = [piece for piece in literal if piece]
        # A sentence starts the text or follows another's ". " (several are joined by
        # spaces). A value ends at the first place its following words stand, and is never
        # searched again (an atomic group): at most one pass over the text from each start.
        pattern = r"(?:^|(?<=\. ))" + re.escape(literal[0])
        for name, after in zip(names, literal[1:], strict=True):
            pattern += f"(?>(?P<{name}>.+?){re.escape(after)})"
        self.pattern = re.compile(pattern)
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


#: Longer texts are shown as written: what is stored is shorter (a request's warning is
#: cut at 2,000 characters), and a value's search must stay cheap on anything.
LONGEST = 2000


def in_language(text: str) -> str:
    """``text`` with each declared sentence in it in the active language (as written for
    an English reader)."""
    if not text or len(text) > LONGEST or (get_language() or "en").split("-")[0] == "en":
        return text
    for sentence in _DECLARED:
        if all(piece in text for piece in sentence.pieces):
            text = sentence.pattern.sub(sentence._translated, text)
    return text
