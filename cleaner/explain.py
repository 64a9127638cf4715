"""Explain: every paragraph of an article with its decision and the features that drove it.

The cleaner decides in rounds (see ``cleaner.clean``): once paragraphs are dropped, the survivors are
scored again in their new context. A paragraph is explained by the classifier inputs of the last round it
took part in, the round whose verdict stands. A feature's contribution is its value (for dense features,
its difference from the training mean) times its weight toward "removable" (promo or boilerplate,
against body) in the classifier's first pass, the one that reads words and shapes; the second pass then
weighs that with the context. Positive pushes toward removal, negative toward keeping. Labels and scores are the
cleaner's own; a web page is decided by the HTML path's rules (``cleaner.html.decide_segmentations``),
exactly as ``Cleaner.analyze_html`` decides it. Hands on an :class:`Explanation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from cleaner.clean import Cleaner, CleanResult, RoundObserver
from cleaner.model import feature_names
from cleaner.segment import Paragraph, segment_text

__all__ = ["Driver", "ParagraphExplanation", "Explanation", "explain", "explain_text", "explain_html"]

TOP_DEFAULT = 3


@dataclass(frozen=True)
class Driver:
    """One feature's push on a decision: positive toward removal, negative toward keeping."""

    feature: str
    weight: float


@dataclass(frozen=True)
class ParagraphExplanation:
    index: int
    text: str
    label: str
    score: float
    kept: bool
    drivers: tuple[Driver, ...]


@dataclass(frozen=True)
class Explanation:
    """The decisions on one article, each with the features that drove it in the round it was taken."""

    paragraphs: tuple[ParagraphExplanation, ...]
    metadata: Mapping[str, str]
    threshold: float
    kept_whole: bool = False  # HTML: the extractor won, every paragraph is kept whatever its label


def _top(row: object, names: Sequence[str], top: int) -> tuple[Driver, ...]:
    values = np.asarray(row.data)  # type: ignore[attr-defined]
    order = np.argsort(-np.abs(values), kind="stable")[:top]
    return tuple(Driver(names[row.indices[i]], float(values[i])) for i in order)  # type: ignore[attr-defined]


def _recorder(cleaner: Cleaner, top: int) -> tuple[RoundObserver, dict[int, tuple[Driver, ...]]]:
    """An observer for the cleaner's rounds, and the drivers it records for each paragraph."""
    classifier = cleaner.pipeline.named_steps["classify"]
    names = feature_names(cleaner.pipeline)
    drivers: dict[int, tuple[Driver, ...]] = {}

    def observe(index: np.ndarray, X: sp.csr_matrix) -> None:
        # Survivors are re-scored each round, so the last round a paragraph is seen in is the one
        # whose decision stands.
        contributions = classifier.contributions(X)
        for row, j in enumerate(index):
            drivers[int(j)] = _top(contributions.getrow(row), names, top)

    return observe, drivers


def _explanation(
    result: CleanResult, drivers: Mapping[int, tuple[Driver, ...]], threshold: float, kept_whole: bool = False,
) -> Explanation:
    return Explanation(
        tuple(
            ParagraphExplanation(p.index, p.text, p.label, p.score, p.kept, drivers[p.index])
            for p in result.paragraphs
        ),
        dict(result.metadata), threshold, kept_whole,
    )


def explain(
    cleaner: Cleaner, paragraphs: Sequence[Paragraph], metadata: Mapping[str, str] | None = None,
    top: int = TOP_DEFAULT,
) -> Explanation:
    """Explain the cleaner's decisions on one segmented article, ``top`` drivers per paragraph."""
    observe, drivers = _recorder(cleaner, top)
    result = cleaner.analyze_paragraphs([(paragraphs, dict(metadata or {}))], observe)[0]
    return _explanation(result, drivers, cleaner.threshold)


def explain_text(cleaner: Cleaner, text: str, top: int = TOP_DEFAULT) -> Explanation:
    """Explain the cleaner's decisions on a plain-text article."""
    paragraphs, metadata = segment_text(text)
    return explain(cleaner, paragraphs, metadata, top)


def explain_html(cleaner: Cleaner, html: str | bytes, top: int = TOP_DEFAULT) -> Explanation:
    """Explain the decisions the HTML path takes on a page (``Cleaner.analyze_html``): its own threshold,
    and the page kept whole when the classifier would remove most of it."""
    from cleaner.html import decide_segmentations, segment_html  # the HTML stack is imported only when used

    observe, drivers = _recorder(cleaner, top)
    (decision,) = decide_segmentations(cleaner, [segment_html(html)], observe)
    return _explanation(decision.result, drivers, decision.threshold, decision.kept_whole)
