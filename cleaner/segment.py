"""Segment: turn raw article text into paragraphs, and lift the metadata prefix off the first one.

Hands on a tuple of :class:`Paragraph` (text unchanged apart from surrounding whitespace and line-ending
normalisation) and a metadata dict. The HTML path (``cleaner.html``) builds the same ``Paragraph``
objects, filling in the page-structure fields that plain text does not have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Paragraph", "split_paragraphs", "split_metadata_prefix", "segment_text"]

# A blank line: a line break, then a line holding nothing but spaces/tabs (or nothing), then a break.
_BLANK_LINE = re.compile(r"\n[ \t\f\v\u00a0\u2000-\u200b\u3000]*\n")
# `date 2024-10-24 ` glued to the first sentence, as delivered by the user's feed. Repeated prefixes are
# taken together so that cleaning stays idempotent.
_DATE_PREFIX = re.compile(r"^(?:\s*date[ \t]+(\d{4}-\d{2}-\d{2})(?:[ \t]+|$))+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One unit the classifier decides on.

    ``tag``, ``link_density`` and ``container`` are only known for HTML input: the block's tag name,
    the share of its characters inside links, and the class/id tokens of its enclosing elements.
    """

    text: str
    tag: str = ""
    link_density: float = 0.0
    container: str = ""


def split_paragraphs(text: str) -> list[str]:
    """Split plain text on blank lines; CRLF/CR become LF, single line breaks stay inside a paragraph."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = _BLANK_LINE.split(normalised)
    return [part.strip() for part in parts if part.strip()]


def split_metadata_prefix(first_paragraph: str) -> tuple[str, dict[str, str]]:
    """Remove a leading ``date YYYY-MM-DD`` prefix; return the rest of the paragraph and the metadata.

    When several prefixes are stacked, the first date is the one reported.
    """
    match = _DATE_PREFIX.match(first_paragraph)
    if not match:
        return first_paragraph, {}
    first_date = re.search(r"\d{4}-\d{2}-\d{2}", match.group(0))
    assert first_date is not None  # the pattern guarantees one
    return first_paragraph[match.end():].strip(), {"date": first_date.group(0)}


def segment_text(text: str) -> tuple[tuple[Paragraph, ...], dict[str, str]]:
    """Paragraphs of a plain-text article plus the metadata carried by its prefix."""
    texts = split_paragraphs(text)
    metadata: dict[str, str] = {}
    if texts:
        first, metadata = split_metadata_prefix(texts[0])
        texts = ([first] if first else []) + texts[1:]
    return tuple(Paragraph(t) for t in texts), metadata
