"""Explain: every paragraph of an article with its decision and the features that drove it.

The cleaner decides in rounds (see ``cleaner.clean``): once paragraphs are dropped, the survivors are
scored again in their new context. A paragraph is explained by the classifier inputs of the last round it
took part in, the round whose verdict stands. A feature's contribution is its value times its weight
toward "removable" (promo or boilerplate, against body) in the classifier's second pass, before
calibration: positive pushes toward removal, negative toward keeping. Labels and scores are the
cleaner's own. Hands on an :class:`Explanation`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from cleaner.clean import Cleaner
from cleaner.features import rows_for_articles
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
    """The decisions on one article. ``consistent`` is False if replaying the rounds did not reproduce the
    cleaner's scores (its internals changed): the drivers are then only indicative."""

    paragraphs: tuple[ParagraphExplanation, ...]
    metadata: Mapping[str, str]
    threshold: float
    consistent: bool


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
    result = cleaner.analyze_paragraphs([(paragraphs, metadata)])[0]
    pipeline = cleaner.pipeline
    featurizer = pipeline.named_steps["features"]
    classifier = pipeline.named_steps["classify"]
    names = feature_names(pipeline)
    classes = list(pipeline.classes_)
    body, boilerplate, promo = (classes.index(c) for c in ("body", "boilerplate", "promo"))
    drivers: dict[int, tuple[Driver, ...]] = {}
    scores: dict[int, float] = {}
    active = list(range(len(paragraphs)))
    while active:
        X = featurizer.transform(rows_for_articles([[paragraphs[j] for j in active]]))
        proba = classifier.predict_proba(X)
        _, contributions = classifier.contributions(X)
        survivors = []
        for k, j in enumerate(active):
            scores[j] = 1.0 - float(proba[k, body])
            drivers[j] = _top(contributions.getrow(k), names, top)
            keeps_boilerplate = cleaner.config.keep_boilerplate and proba[k, boilerplate] > proba[k, promo]
            if scores[j] < cleaner.threshold or keeps_boilerplate:
                survivors.append(j)
        if not 0 < len(survivors) < len(active):
            break
        active = survivors
    consistent = all(math.isclose(scores[p.index], p.score, abs_tol=1e-6) for p in result.paragraphs)
    return Explanation(
        tuple(
            ParagraphExplanation(p.index, p.text, p.label, p.score, p.kept, drivers[p.index])
            for p in result.paragraphs
        ),
        dict(result.metadata), cleaner.threshold, consistent,
    )


def explain_text(cleaner: Cleaner, text: str, top: int = TOP_DEFAULT) -> Explanation:
    """Explain the cleaner's decisions on a plain-text article."""
    paragraphs, metadata = segment_text(text)
    return explain(cleaner, paragraphs, metadata, top)
