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
from cleaner.html import removes_most
from cleaner.segment import Paragraph
from cleaner.model import DEFAULT_THRESHOLD, ModelInfo, build_pipeline, save_model

__all__ = [
    "Evaluation", "cross_validate", "cross_validate_thresholds", "sweep_summary", "choose_threshold", "train",
    "fit_pipeline", "REPORT_LABELS",
]

REPORT_LABELS = ("body", "promo", "boilerplate")
DEFAULT_FOLDS = 10  # groups of publisher styles; 0 means leave one style out


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
    folds: int = 0

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
            "folds": self.folds,
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
    train: Sequence[LabelledArticle], test: Sequence[LabelledArticle], thresholds: Sequence[float],
    random_state: int,
) -> dict[float, list[tuple[LabelledArticle, list[tuple[str, bool]]]]]:
    """Fit on ``train``; decide on ``test`` at each threshold (deciding is cheap next to fitting)."""
    pipeline = fit_pipeline(train, random_state)
    decisions = {}
    for threshold in thresholds:
        cleaner = Cleaner(pipeline, ModelInfo(threshold, tuple(pipeline.classes_)), CleanerConfig(threshold))
        results = cleaner.analyze_paragraphs([(a.paragraphs, a.metadata) for a in test])
        decisions[threshold] = [(a, [(p.label, p.kept) for p in r.paragraphs]) for a, r in zip(test, results)]
    return decisions


def style_folds(articles: Sequence[LabelledArticle], folds: int = DEFAULT_FOLDS) -> list[list[str]]:
    """Publisher styles split into ``folds`` groups (0: one style per fold), deterministically.

    Styles are dealt round-robin in order of size, largest first, so folds carry similar amounts of data.
    """
    sizes = Counter(a.style for a in articles)
    styles = sorted(sizes, key=lambda s: (-sizes[s], s))
    if len(styles) < 2:
        raise ValueError(f"cross-validation needs at least 2 publisher styles, found {len(styles)}")
    n = len(styles) if folds <= 0 else min(folds, len(styles))
    if n < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    return [styles[i::n] for i in range(n)]


def _fold_results(
    articles: Sequence[LabelledArticle], thresholds: Sequence[float], random_state: int, n_jobs: int, folds: int,
) -> tuple[list[dict[float, list[tuple[LabelledArticle, list[tuple[str, bool]]]]]], int]:
    groups = style_folds(articles, folds)
    results = Parallel(n_jobs=n_jobs)(
        delayed(_fold)(
            [a for a in articles if a.style not in held_out], [a for a in articles if a.style in held_out],
            tuple(thresholds), random_state,
        )
        for held_out in map(set, groups)
    )
    return results, len(groups)


def _kept_whole_if_most_removed(article: LabelledArticle, decisions: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """The HTML path's page rule (``cleaner.html.removes_most``): a page the classifier would strip of
    most of its extracted characters is kept whole."""
    if removes_most([p.text for p in article.paragraphs], [keep for _, keep in decisions]):
        return [(label, True) for label, _ in decisions]
    return decisions


def _pool(
    results: list, threshold: float, n_folds: int, pages_only: bool = False,
) -> Evaluation:
    s, t, pred, kept, exact = [], [], [], [], []
    for fold in results:
        for article, decisions in fold[threshold]:
            if pages_only:
                if not is_page(article):
                    continue
                decisions = _kept_whole_if_most_removed(article, decisions)
            for truth, (label, keep) in zip(article.labels, decisions):
                s.append(article.style)
                t.append(truth)
                pred.append(label)
                kept.append(keep)
            exact.append(
                (article.style, all(keep == (truth == "body") for truth, (_, keep) in zip(article.labels, decisions)))
            )
    return Evaluation(tuple(s), tuple(t), tuple(pred), tuple(kept), tuple(exact), threshold, n_folds)


def is_page(article: LabelledArticle) -> bool:
    """Whether a fixture is an HTML page (decided by the HTML path at its own threshold)."""
    return article.path.suffix.lower() in {".html", ".htm"}


def cross_validate_thresholds(
    articles: Sequence[LabelledArticle], thresholds: Sequence[float], random_state: int = 0,
    n_jobs: int = -1, folds: int = DEFAULT_FOLDS,
) -> dict[float, Evaluation]:
    """Cross-validation with whole publisher styles held out, decided exactly as the cleaner decides,
    at each of ``thresholds`` (one fit per fold serves them all)."""
    return cross_validate_all(articles, thresholds, (), random_state, n_jobs, folds)[0]


def cross_validate_all(
    articles: Sequence[LabelledArticle], thresholds: Sequence[float], page_thresholds: Sequence[float],
    random_state: int = 0, n_jobs: int = -1, folds: int = DEFAULT_FOLDS,
) -> tuple[dict[float, Evaluation], dict[float, Evaluation]]:
    """Like :func:`cross_validate_thresholds`, from the same folds, plus the HTML pages alone at each of
    ``page_thresholds`` with the HTML path's page rule applied: what the page threshold is chosen on."""
    results, n_folds = _fold_results(
        articles, sorted(set(thresholds) | set(page_thresholds)), random_state, n_jobs, folds
    )
    everything = {threshold: _pool(results, threshold, n_folds) for threshold in thresholds}
    has_pages = any(is_page(a) for a in articles)
    pages = {threshold: _pool(results, threshold, n_folds, pages_only=True) for threshold in page_thresholds} if has_pages else {}
    return everything, pages


def cross_validate(
    articles: Sequence[LabelledArticle], threshold: float = DEFAULT_THRESHOLD, random_state: int = 0,
    n_jobs: int = -1, folds: int = DEFAULT_FOLDS,
) -> Evaluation:
    """Cross-validation with whole publisher styles held out, at one threshold."""
    return cross_validate_thresholds(articles, [threshold], random_state, n_jobs, folds)[threshold]


SWEEP = (0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
# The floor on body paragraphs lost, held out by publisher: the threshold gives up F1, not body.
MAX_BODY_LOST = 0.005
PAGE_SWEEP = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99)  # HTML pages: extraction already removed the chrome
# On a web page the cleaner works after an extractor that users already trust with the article: the
# HTML issue allows it to cost at most 0.5% of the article's text (recall), the same share of body
# paragraphs lost as on plain text.
MAX_PAGE_BODY_LOST = 0.005


def sweep_summary(evaluations: dict[float, Evaluation]) -> list[dict[str, float]]:
    """Precision, recall, F1 and body lost at each threshold: the trade-off one threshold controls."""
    rows = []
    for threshold, evaluation in sorted(evaluations.items()):
        metrics = evaluation.metrics()
        rows.append({"threshold": threshold, **{k: metrics["removable"][k] for k in ("precision", "recall", "f1")},
                     "body_lost": metrics["body_lost"], "articles_exact": metrics["articles_exact"]})
    return rows


def page_summary(page_evaluations: dict[float, Evaluation], threshold: float) -> dict[str, Any]:
    """The HTML pages' held-out figures at one page threshold (sidecar and ``cleaner evaluate``)."""
    metrics = page_evaluations[threshold].metrics()
    return {k: metrics[k] for k in ("threshold", "articles", "paragraphs", "removable", "body_lost", "articles_exact")}


def choose_threshold(sweep: list[dict[str, float]], max_body_lost: float) -> float:
    """The threshold with the best F1 among those losing at most ``max_body_lost`` of body paragraphs;
    if none does, the one that loses least."""
    allowed = [row for row in sweep if row["body_lost"] <= max_body_lost]
    if allowed:
        return max(allowed, key=lambda row: (row["f1"], -row["threshold"]))["threshold"]
    return min(sweep, key=lambda row: (row["body_lost"], -row["f1"]))["threshold"]


def train(
    fixtures_root: str | Path, out: str | Path, threshold: float | None = None, random_state: int = 0,
    n_jobs: int = -1, folds: int = DEFAULT_FOLDS, max_body_lost: float = MAX_BODY_LOST,
    max_page_body_lost: float = MAX_PAGE_BODY_LOST,
) -> dict[str, Any]:
    """Cross-validate, fit on every fixture, and write the model with its sidecar. Returns the metrics.

    With ``threshold=None`` the threshold is chosen from the held-out sweep (:func:`choose_threshold`).
    The page threshold is chosen the same way on the HTML fixtures alone, within ``max_page_body_lost``.
    """
    articles = load_fixtures(fixtures_root)
    thresholds = sorted(set(SWEEP) | ({threshold} if threshold is not None else set()))
    evaluations, page_evaluations = cross_validate_all(articles, thresholds, PAGE_SWEEP, random_state, n_jobs, folds)
    sweep = sweep_summary(evaluations)
    chosen = threshold if threshold is not None else choose_threshold(sweep, max_body_lost)
    metrics = evaluations[chosen].metrics()
    page_sweep = sweep_summary(page_evaluations) if page_evaluations else []
    page_threshold = choose_threshold(page_sweep, max_page_body_lost) if page_sweep else None
    pipeline = fit_pipeline(articles, random_state)
    label_counts = Counter(label for a in articles for label in a.labels)
    training = {
        "fixtures_sha256": fixtures_digest(fixtures_root),
        "articles": len(articles),
        "paragraphs": sum(label_counts.values()),
        "labels": dict(sorted(label_counts.items())),
        "styles": sorted({a.style for a in articles}),
        "random_state": random_state,
        "threshold_rule": "given" if threshold is not None else f"best held-out F1 with body lost <= {max_body_lost}",
        "platform": platform.platform(),
    }
    heldout = {k: metrics[k] for k in ("removable", "body_lost", "articles_exact", "per_label", "confusion")}
    heldout["scheme"] = f"publisher styles held out, {metrics['folds']} folds"
    heldout["sweep"] = sweep
    if page_threshold is not None:
        heldout["html_pages"] = {
            **page_summary(page_evaluations, page_threshold),
            "threshold_rule": f"best held-out F1 on the HTML fixtures, page rule applied, body lost <= {max_page_body_lost}",
            "sweep": page_sweep,
        }
    save_model(pipeline, out, threshold=chosen, html_threshold=page_threshold, training=training,
               heldout_metrics=heldout)
    return dict(metrics, sweep=sweep, html_threshold=page_threshold, html_sweep=page_sweep)
