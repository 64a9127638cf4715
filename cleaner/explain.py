"""Explain: every paragraph of an article with its decision and the features that drove it.

The cleaner decides in rounds (see ``cleaner.clean``): once paragraphs are dropped, the survivors are
scored again in their new context. A paragraph is explained by the classifier inputs of the last round it
took part in, the round whose verdict stands. A feature's contribution is its value times its weight
toward "removable" (promo or boilerplate, against body) in the classifier's second pass, before
calibration: positive pushes toward removal, negative toward keeping. Labels and scores are the
cleaner's own. Hands on an :class:`Explanation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from cleaner.clean import Cleaner
from cleaner.model import feature_names
from cleaner.segment import Paragraph, segment_text

__all__ = ["Driver", "ParagraphExplanation", "Explanation", "explain", "explain_text"]

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


def _top(row: object, names: Sequence[str], top: int) -> tuple[Driver, ...]:
    values = np.asarray(row.data)  # type: ignore[attr-defined]
    order = np.argsort(-np.abs(values), kind="stable")[:top]
    return tuple(Driver(names[row.indices[i]], float(values[i])) for i in order)  # type: ignore[attr-defined]


def explain(
    cleaner: Cleaner, paragraphs: Sequence[Paragraph], metadata: Mapping[str, str] | None = None,
    top: int = TOP_DEFAULT,
) -> Explanation:
    """Explain the cleaner's decisions on one segmented article, ``top`` drivers per paragraph."""
    metadata = dict(metadata or {})
    classifier = cleaner.pipeline.named_steps["classify"]
    names = feature_names(cleaner.pipeline)
    drivers: dict[int, tuple[Driver, ...]] = {}

    def observe(index: np.ndarray, X: sp.csr_matrix) -> None:
        # Survivors are re-scored each round, so the last round a paragraph is seen in is the one
        # whose decision stands.
        contributions = classifier.contributions(X)
        for row, j in enumerate(index):
            drivers[int(j)] = _top(contributions.getrow(row), names, top)

    result = cleaner.analyze_paragraphs([(paragraphs, metadata)], observe)[0]
    return Explanation(
        tuple(
            ParagraphExplanation(p.index, p.text, p.label, p.score, p.kept, drivers[p.index])
            for p in result.paragraphs
        ),
        dict(result.metadata), cleaner.threshold,
    )


def explain_text(cleaner: Cleaner, text: str, top: int = TOP_DEFAULT) -> Explanation:
    """Explain the cleaner's decisions on a plain-text article."""
    paragraphs, metadata = segment_text(text)
    return explain(cleaner, paragraphs, metadata, top)
