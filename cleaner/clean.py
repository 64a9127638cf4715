"""Clean: classify every paragraph of an article and drop promo and boilerplate.

The decision is taken to a fixed point: once paragraphs are dropped, the survivors are scored again in
their new context, until a round drops nothing. That makes cleaning idempotent by construction (a
cleaned article, cleaned again, comes back unchanged). Hands on a :class:`CleanResult` per article.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.pipeline import Pipeline

from cleaner.features import Arrangement, rows_for_articles
from cleaner.model import ModelInfo, load_model
from cleaner.segment import Paragraph, segment_text

__all__ = ["CleanerConfig", "ParagraphResult", "CleanResult", "Cleaner", "clean", "decide"]

PARAGRAPH_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class CleanerConfig:
    """How the cleaner decides. ``threshold=None`` uses the threshold stored with the model."""

    threshold: float | None = None
    keep_boilerplate: bool = False
    batch_size: int = 512  # articles per classifier call in the *_many methods

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1 (exclusive), got {self.threshold!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size!r}")


@dataclass(frozen=True, slots=True)
class ParagraphResult:
    """One input paragraph and what the cleaner decided about it.

    ``score`` is the calibrated probability that the paragraph is promo or boilerplate; ``label`` is
    ``body`` below the threshold, otherwise the likelier of ``promo`` and ``boilerplate``.
    """

    index: int
    text: str
    label: str
    score: float
    kept: bool

    def __reduce__(self) -> tuple[type, tuple[int, str, str, float, bool]]:
        # Batch workers send every removed paragraph back to the writer: rebuilding from the fields costs
        # a tenth of a frozen dataclass's default (field by field, in Python).
        return ParagraphResult, (self.index, self.text, self.label, self.score, self.kept)


@dataclass(frozen=True)
class CleanResult:
    """Every paragraph of one article with its decision, plus metadata lifted from the text."""

    paragraphs: tuple[ParagraphResult, ...]
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The kept paragraphs, in order, separated by a blank line."""
        return PARAGRAPH_SEPARATOR.join(p.text for p in self.paragraphs if p.kept)

    @property
    def removed(self) -> tuple[ParagraphResult, ...]:
        return tuple(p for p in self.paragraphs if not p.kept)


Verdict = tuple[str, float, bool]  # label, score, kept


def _judge(proba: np.ndarray, classes: Sequence[str], threshold: float, keep_boilerplate: bool) -> list[Verdict]:
    """A verdict per row of class probabilities: removable from the threshold up, then the likelier of
    promo and boilerplate; kept if body, or boilerplate when boilerplate is kept."""
    body, boilerplate, promo = (proba[:, classes.index(c)] for c in ("body", "boilerplate", "promo"))
    score = 1.0 - body
    removable = score >= threshold
    label = np.where(removable, np.where(promo >= boilerplate, "promo", "boilerplate"), "body")
    kept = ~removable | (keep_boilerplate & (label == "boilerplate"))
    return list(zip(label.tolist(), score.tolist(), kept.tolist()))


RoundObserver = Callable[[np.ndarray, sp.csr_matrix], None]


def decide(
    pipeline: Pipeline, articles: Sequence[Sequence[Paragraph]], threshold: float,
    keep_boilerplate: bool = False, observe: RoundObserver | None = None,
) -> list[list[Verdict]]:
    """A verdict for every paragraph of every article, iterated to a fixed point (see module doc).

    All articles still changing are scored in one classifier call per round, which is what makes
    batches fast. ``observe``, if given, sees each round's feature matrix with the flat indices of its
    rows' paragraphs (``cleaner explain`` uses it to say what drove each decision).
    """
    classes = list(pipeline.classes_)
    featurizer = pipeline.named_steps["features"]
    classifier = pipeline.named_steps["classify"]
    # What depends on a paragraph alone (its features, the first-pass scores) is computed once; each
    # round only re-arranges the survivors and scores them in their new context.
    pending = [i for i, article in enumerate(articles) if article]
    if not pending:
        return [[] for _ in articles]
    starts = np.cumsum([0] + [len(a) for a in articles]).tolist()
    own = featurizer.own([p for article in articles for p in article])
    first = classifier.first_pass(featurizer.own_matrix(own))
    verdicts: list[list[Verdict | None]] = [[None] * len(a) for a in articles]
    active = [list(range(len(a))) for a in articles]
    while pending:
        index = np.asarray([starts[i] + j for i in pending for j in active[i]], dtype=np.int64)
        dense = featurizer.assemble_dense(own, index, Arrangement.of_lengths([len(active[i]) for i in pending]))
        if observe is not None:
            rows = rows_for_articles([[articles[i][j] for j in active[i]] for i in pending])
            observe(index, featurizer.assemble(own.take(index), rows))
        judged = iter(_judge(classifier.second_pass(dense, first[index]), classes, threshold, keep_boilerplate))
        still_changing = []
        for i in pending:
            survivors = []
            for j, verdict in zip(active[i], judged):
                verdicts[i][j] = verdict
                if verdict[2]:
                    survivors.append(j)
            if 0 < len(survivors) < len(active[i]):
                active[i] = survivors
                still_changing.append(i)
        pending = still_changing
    return [[v for v in article if v is not None] for article in verdicts]


class Cleaner:
    """A loaded model plus a config. Load once; safe to share across threads (it holds no mutable state)."""

    def __init__(self, pipeline: Pipeline, info: ModelInfo, config: CleanerConfig | None = None) -> None:
        self.pipeline = pipeline
        self.info = info
        self.config = config or CleanerConfig()

    @classmethod
    def load(cls, path: str | Path | None = None, config: CleanerConfig | None = None) -> "Cleaner":
        """Load a model (the shipped one by default); raises ``ModelError`` with a clear message."""
        pipeline, info = load_model(path)
        return cls(pipeline, info, config)

    def with_config(self, **changes: object) -> "Cleaner":
        """The same model with some settings changed, e.g. ``cleaner.with_config(keep_boilerplate=True)``."""
        return Cleaner(self.pipeline, self.info, replace(self.config, **changes))

    @property
    def threshold(self) -> float:
        return self.config.threshold if self.config.threshold is not None else self.info.threshold

    def analyze_paragraphs(
        self, articles: Sequence[tuple[Sequence[Paragraph], Mapping[str, str]]],
        observe: RoundObserver | None = None,
    ) -> list[CleanResult]:
        """Decide on already segmented articles (the HTML path and the evaluator use this)."""
        verdicts = decide(
            self.pipeline, [paragraphs for paragraphs, _ in articles], self.threshold,
            self.config.keep_boilerplate, observe,
        )
        return [
            CleanResult(
                tuple(
                    ParagraphResult(index, paragraph.text, label, score, kept)
                    for index, (paragraph, (label, score, kept)) in enumerate(zip(paragraphs, article_verdicts))
                ),
                dict(metadata),
            )
            for (paragraphs, metadata), article_verdicts in zip(articles, verdicts)
        ]

    def analyze_batch(self, texts: Sequence[str]) -> list[CleanResult]:
        """Analyze several plain-text articles in one classifier call per round."""
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"article {position}: expected str, got {type(text).__name__}")
        return self.analyze_paragraphs([segment_text(text) for text in texts])

    def analyze(self, text: str) -> CleanResult:
        """Every paragraph of a plain-text article with its label, score and kept flag, plus metadata."""
        return self.analyze_batch([text])[0]

    def analyze_html(self, html: str | bytes) -> CleanResult:
        """Like :meth:`analyze`, for a web page: trafilatura finds the main content, the classifier
        decides on its paragraphs with the page's tags, links and class names as extra evidence."""
        from cleaner.html import analyze_html  # the HTML stack is imported only when used

        return analyze_html(self, html)

    def clean(self, text: str) -> str:
        """The article with promo (and, unless configured otherwise, boilerplate) paragraphs removed."""
        return self.analyze(text).text

    def analyze_many(self, texts: Iterable[str]) -> Iterator[CleanResult]:
        """Stream results for an iterable of articles, batching internally; order is preserved."""
        iterator = iter(texts)
        while batch := list(islice(iterator, self.config.batch_size)):
            yield from self.analyze_batch(batch)

    def clean_many(self, texts: Iterable[str]) -> Iterator[str]:
        """Stream cleaned texts for an iterable of articles; memory stays bounded by the batch size."""
        for result in self.analyze_many(texts):
            yield result.text


_default_cleaner: Cleaner | None = None
_default_lock = threading.Lock()


def default_cleaner() -> Cleaner:
    """The shipped model, loaded once per process on first use."""
    global _default_cleaner
    with _default_lock:
        if _default_cleaner is None:
            _default_cleaner = Cleaner.load()
        return _default_cleaner


def clean(text: str) -> str:
    """Clean one plain-text article with the shipped model: ``clean(text) -> text``."""
    return default_cleaner().clean(text)
