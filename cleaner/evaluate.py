"""Evaluate and train: held-out quality by publisher style, and the shipped-model training run.

Cross-validation leaves one publisher style out per fold (never the same style in train and test) and
decides on each held-out article exactly as the cleaner does (same fixed-point procedure), so the
figures describe what a user gets on a publisher the model has never seen.
"""

from __future__ import annotations

import platform
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from joblib import Parallel, delayed
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.pipeline import Pipeline

from cleaner.clean import Cleaner, CleanerConfig
from cleaner.features import rows_for_articles
from cleaner.fixtures import LabelledArticle, fixtures_digest, load_fixtures
from cleaner.segment import Paragraph
from cleaner.model import DEFAULT_THRESHOLD, ModelInfo, build_pipeline, save_model

__all__ = ["Evaluation", "cross_validate", "train", "fit_pipeline", "REPORT_LABELS"]

REPORT_LABELS = ("body", "promo", "boilerplate")


def training_articles(articles: Sequence[LabelledArticle]) -> tuple[list[list[Paragraph]], list[str]]:
    """Paragraphs and labels to fit on: every article, plus its cleaned (body-only) version.

    The cleaned copies teach the model that a clean article stays as it is: without them, position
    features learned from raw articles ("the last paragraphs are boilerplate") would eat into the body
    once the real boilerplate is gone, and cleaning would not be idempotent.
    """
    paragraph_lists: list[list[Paragraph]] = []
    labels: list[str] = []
    for article in articles:
        paragraph_lists.append(list(article.paragraphs))
        labels.extend(article.labels)
        body = [p for p, label in zip(article.paragraphs, article.labels) if label == "body"]
        if body and len(body) < len(article.paragraphs):
            paragraph_lists.append(body)
            labels.extend(["body"] * len(body))
    return paragraph_lists, labels


def fit_pipeline(articles: Sequence[LabelledArticle], random_state: int = 0) -> Pipeline:
    """Train a fresh pipeline on the given articles (and their cleaned versions)."""
    paragraph_lists, labels = training_articles(articles)
    return build_pipeline(random_state).fit(rows_for_articles(paragraph_lists), labels)


@dataclass(frozen=True)
class Evaluation:
    """Per-paragraph truth and decisions pooled over the held-out folds."""

    styles: tuple[str, ...]  # per paragraph
    truth: tuple[str, ...]
    predicted: tuple[str, ...]
    kept: tuple[bool, ...]
    article_exact: tuple[tuple[str, bool], ...]  # (style, cleaned exactly) per article
    threshold: float

    def metrics(self) -> dict[str, Any]:
        truth = np.asarray(self.truth)
        predicted = np.asarray(self.predicted)
        kept = np.asarray(self.kept)
        p, r, f, support = precision_recall_fscore_support(
            truth, predicted, labels=list(REPORT_LABELS), zero_division=0
        )
        per_label = {
            label: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                    "f1": round(float(f[i]), 4), "support": int(support[i])}
            for i, label in enumerate(REPORT_LABELS)
        }
        removable = _binary(truth != "body", ~kept)
        body = truth == "body"
        per_style = {}
        for style in sorted(set(self.styles)):
            mask = np.asarray(self.styles) == style
            style_removable = _binary(truth[mask] != "body", ~kept[mask])
            per_style[style] = {
                "removable_f1": style_removable["f1"],
                "body_lost": round(float((~kept[mask & body]).mean()) if (mask & body).any() else 0.0, 4),
                "articles": sum(1 for s, _ in self.article_exact if s == style),
            }
        return {
            "threshold": self.threshold,
            "articles": len(self.article_exact),
            "paragraphs": int(len(truth)),
            "styles": len(set(self.styles)),
            "per_label": per_label,
            "removable": removable,
            "body_lost": round(float((~kept[body]).mean()), 4),
            "body_lost_count": int((~kept[body]).sum()),
            "articles_exact": round(sum(e for _, e in self.article_exact) / max(len(self.article_exact), 1), 4),
            "confusion": {
                "labels": list(REPORT_LABELS),
                "matrix": confusion_matrix(truth, predicted, labels=list(REPORT_LABELS)).tolist(),
            },
            "per_style": per_style,
        }


def _binary(truth: np.ndarray, removed: np.ndarray) -> dict[str, float]:
    tp = int((truth & removed).sum())
    fp = int((~truth & removed).sum())
    fn = int((truth & ~removed).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "support": int(truth.sum())}


def _fold(
    train: Sequence[LabelledArticle], test: Sequence[LabelledArticle], threshold: float, random_state: int
) -> list[tuple[LabelledArticle, list[tuple[str, bool]]]]:
    pipeline = fit_pipeline(train, random_state)
    cleaner = Cleaner(pipeline, ModelInfo(threshold, tuple(pipeline.classes_)), CleanerConfig(threshold))
    results = cleaner.analyze_paragraphs([(a.paragraphs, a.metadata) for a in test])
    return [(a, [(p.label, p.kept) for p in r.paragraphs]) for a, r in zip(test, results)]


def cross_validate(
    articles: Sequence[LabelledArticle], threshold: float = DEFAULT_THRESHOLD, random_state: int = 0,
    n_jobs: int = -1,
) -> Evaluation:
    """Leave-one-publisher-style-out cross-validation, decided exactly as the cleaner decides."""
    styles = sorted({a.style for a in articles})
    if len(styles) < 2:
        raise ValueError(f"cross-validation needs at least 2 publisher styles, found {len(styles)}")
    folds = Parallel(n_jobs=n_jobs)(
        delayed(_fold)(
            [a for a in articles if a.style != style], [a for a in articles if a.style == style],
            threshold, random_state,
        )
        for style in styles
    )
    s, t, pred, kept, exact = [], [], [], [], []
    for fold in folds:
        for article, decisions in fold:
            for truth, (label, keep) in zip(article.labels, decisions):
                s.append(article.style)
                t.append(truth)
                pred.append(label)
                kept.append(keep)
            exact.append((article.style, all(keep == (truth == "body") for truth, (_, keep) in zip(article.labels, decisions))))
    return Evaluation(tuple(s), tuple(t), tuple(pred), tuple(kept), tuple(exact), threshold)


def train(
    fixtures_root: str | Path, out: str | Path, threshold: float = DEFAULT_THRESHOLD, random_state: int = 0,
    n_jobs: int = -1,
) -> dict[str, Any]:
    """Cross-validate, fit on every fixture, and write the model with its sidecar. Returns the metrics."""
    articles = load_fixtures(fixtures_root)
    metrics = cross_validate(articles, threshold, random_state, n_jobs).metrics()
    pipeline = fit_pipeline(articles, random_state)
    label_counts = Counter(label for a in articles for label in a.labels)
    training = {
        "fixtures_sha256": fixtures_digest(fixtures_root),
        "articles": len(articles),
        "paragraphs": sum(label_counts.values()),
        "labels": dict(sorted(label_counts.items())),
        "styles": sorted({a.style for a in articles}),
        "random_state": random_state,
        "platform": platform.platform(),
    }
    heldout = {k: metrics[k] for k in ("removable", "body_lost", "articles_exact", "per_label", "confusion")}
    heldout["scheme"] = "leave-one-publisher-style-out"
    save_model(pipeline, out, threshold=threshold, training=training, heldout_metrics=heldout)
    return metrics
