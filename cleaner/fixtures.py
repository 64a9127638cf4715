"""Fixtures: read the labelled articles under ``fixtures/`` (format in ``fixtures/README.md``).

Hands on :class:`LabelledArticle` objects whose paragraphs went through the same segmentation steps as
inference input (metadata prefix lifted off the first paragraph), so the model trains on what it sees.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cleaner.model import LABELS
from cleaner.segment import Paragraph, split_metadata_prefix

__all__ = [
    "FixtureError", "LabelledArticle", "parse_text_fixture", "parse_html_fixture", "load_fixtures",
    "fixtures_digest",
]

_LINE = re.compile(r"^\[(?P<label>[a-z]+)(?::(?P<tag>[a-z0-9-]+))?\] (?P<text>\S.*)$")


class FixtureError(ValueError):
    """A fixture file that does not follow the format; the message names the file and line."""


@dataclass(frozen=True)
class LabelledArticle:
    """One labelled article: its paragraphs, their labels and tags, and its publisher style."""

    path: Path
    style: str
    paragraphs: tuple[Paragraph, ...]
    labels: tuple[str, ...]
    tags: tuple[str, ...]
    metadata: dict[str, str]

    @property
    def text(self) -> str:
        """The article as the cleaner receives it (prefix restored, paragraphs blank-line separated)."""
        texts = [p.text for p in self.paragraphs]
        if self.metadata.get("date") and texts:
            texts[0] = f"date {self.metadata['date']} {texts[0]}"
        return "\n\n".join(texts)

    @property
    def expected_text(self) -> str:
        """What a perfect cleaner returns: the body paragraphs only."""
        return "\n\n".join(p.text for p, label in zip(self.paragraphs, self.labels) if label == "body")


def parse_text_fixture(source: str, path: Path) -> tuple[list[Paragraph], list[str], list[str]]:
    """Paragraphs, labels and tags of one ``.txt`` fixture."""
    texts: list[str] = []
    labels: list[str] = []
    tags: list[str] = []
    for number, line in enumerate(source.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("  "):
            if not texts:
                raise FixtureError(f"{path}:{number}: continuation line before any paragraph")
            texts[-1] += "\n" + line.strip()
            continue
        match = _LINE.match(line)
        if not match:
            raise FixtureError(f"{path}:{number}: expected '[label] text' or '[label:tag] text', got {line[:50]!r}")
        label, tag = match["label"], match["tag"] or ""
        if label not in LABELS:
            raise FixtureError(f"{path}:{number}: unknown label {label!r} (use one of {', '.join(LABELS)})")
        if label != "body" and not tag:
            raise FixtureError(f"{path}:{number}: a {label} paragraph needs its family, e.g. [{label}:see-also]")
        texts.append(match["text"].strip())
        labels.append(label)
        tags.append(tag)
    return [Paragraph(t) for t in texts], labels, tags


def _split_label(value: str, where: str) -> tuple[str, str]:
    label, _, tag = value.strip().partition(":")
    if label not in LABELS:
        raise FixtureError(f"{where}: unknown label {label!r} (use one of {', '.join(LABELS)})")
    if label != "body" and not tag:
        raise FixtureError(f"{where}: a {label} block needs its family, e.g. data-label=\"{label}:see-also\"")
    return label, tag


def parse_html_fixture(source: str, path: Path) -> tuple[list[Paragraph], list[str], list[str]]:
    """Paragraphs, labels and tags of one ``.html`` fixture.

    The page goes through :func:`cleaner.html.segment_html`, exactly as at inference; each resulting
    paragraph takes the ``data-label`` of the nearest labelled element around the text it came from.
    A paragraph outside every labelled element, or spanning elements labelled differently, is an error:
    a fixture must say what everything the extractor keeps is.
    """
    from cleaner.html import label_of, segment_html

    segmentation = segment_html(source)
    paragraphs: list[Paragraph] = []
    labels: list[str] = []
    tags: list[str] = []
    for paragraph, sources in zip(segmentation.paragraphs, segmentation.sources):
        where = f"{path}: paragraph {paragraph.text[:60]!r}"
        if not sources:
            raise FixtureError(f"{where} was not found again in the page; cannot tell its label")
        found = label_of(sources)
        if None in found:
            raise FixtureError(f"{where} is outside every element with a data-label; label it")
        if len(found) > 1:
            raise FixtureError(f"{where} spans blocks labelled {sorted(found)}; split or relabel them")
        label, tag = _split_label(found.pop(), where)
        paragraphs.append(paragraph)
        labels.append(label)
        tags.append(tag)
    return paragraphs, labels, tags


# Parsers by file extension.
PARSERS: dict[str, Callable[[str, Path], tuple[list[Paragraph], list[str], list[str]]]] = {
    ".txt": parse_text_fixture,
    ".html": parse_html_fixture,
}


def fixture_files(root: str | Path) -> list[Path]:
    """Every fixture file under ``root``, in a stable order."""
    root = Path(root)
    if not root.exists():
        raise FixtureError(f"fixtures folder {root} does not exist")
    files = sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix in PARSERS and p.name.lower() != "readme.txt"
    )
    if not files:
        raise FixtureError(f"no fixture files ({', '.join(sorted(PARSERS))}) under {root}")
    return files


def load_fixtures(root: str | Path) -> list[LabelledArticle]:
    """All labelled articles under ``root``; the style is each file's folder name."""
    articles = []
    for path in fixture_files(root):
        try:
            source = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise FixtureError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
        paragraphs, labels, tags = PARSERS[path.suffix](source, path)
        if not paragraphs:
            raise FixtureError(f"{path}: no labelled paragraphs")
        first, metadata = split_metadata_prefix(paragraphs[0].text)
        paragraphs[0] = Paragraph(first, paragraphs[0].tag, paragraphs[0].link_density, paragraphs[0].container)
        articles.append(
            LabelledArticle(path, path.parent.name, tuple(paragraphs), tuple(labels), tuple(tags), metadata)
        )
    return articles


def fixtures_digest(root: str | Path) -> str:
    """SHA-256 over every fixture file's relative path and bytes: the training-data hash."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in fixture_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
