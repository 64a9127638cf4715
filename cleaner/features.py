"""Features: turn paragraphs (with their place in the article) into one sparse matrix row each.

The featurizer is a scikit-learn transformer that lives inside the persisted model pipeline, so training
and inference cannot drift apart. Its input rows are :class:`ParagraphRow` tuples; rows of one article
must be contiguous and in order, which is what lets it see each paragraph's neighbours.

Column blocks (all named, see ``get_feature_names_out``):
- ``ctx:has_prev``, ``ctx:has_next``: always the first two columns; the classifier uses them to find
  neighbours when it smooths its first-pass scores.
- ``shape:*``: length, case pattern, "Label:" lead-in, punctuation, question, digits, links/handles,
  cue-word counts from the lexicon.
- ``pos:*``: position in the article.
- ``html:*``: tag, link density and container class/id cues (zero for plain text).
- ``prev:*`` / ``next:*``: the shape and lead of the neighbouring paragraphs.
- ``word:*``: word uni/bi-grams of the paragraph (head and tail only: promo cues sit there).
- ``lead:*``: character n-grams of the first characters, where "See Also:" or "Photo:" live.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from importlib import resources
from typing import NamedTuple, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from cleaner.segment import Paragraph

__all__ = ["ParagraphRow", "ParagraphFeaturizer", "rows_for_articles", "neighbour_indices", "load_lexicon"]

HEAD_CHARS = 200  # word n-grams look at the head and tail of long paragraphs only: cues live there,
TAIL_CHARS = 80  # and it bounds the cost per paragraph whatever its length.
LEAD_CHARS = 32  # character n-grams of the opening: "See Also:", "READ MORE |", "Photo:".


class ParagraphRow(NamedTuple):
    """A paragraph with its place in the article: the classifier's input sample."""

    paragraph: Paragraph
    position: int
    count: int


def rows_for_articles(articles: Sequence[Sequence[Paragraph]]) -> list[ParagraphRow]:
    """Flatten articles into contiguous rows, in order."""
    return [
        ParagraphRow(paragraph, position, len(article))
        for article in articles
        for position, paragraph in enumerate(article)
    ]


def neighbour_indices(rows: Sequence[ParagraphRow]) -> tuple[np.ndarray, np.ndarray]:
    """Index of each row's previous and next paragraph in the same article, or -1."""
    n = len(rows)
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, -1, dtype=np.int64)
    for i, row in enumerate(rows):
        if row.position > 0 and i > 0 and rows[i - 1].position == row.position - 1:
            prev[i] = i - 1
        if row.position < row.count - 1 and i + 1 < n and rows[i + 1].position == row.position + 1:
            nxt[i] = i + 1
    return prev, nxt


@lru_cache(maxsize=4)
def load_lexicon(language: str = "en") -> dict[str, frozenset[str]]:
    """Cue-word lists for one language, from ``cleaner/lexicon/<language>.json``."""
    raw = json.loads(resources.files("cleaner.lexicon").joinpath(f"{language}.json").read_text("utf-8"))
    return {key: frozenset(values) for key, values in raw.items() if not key.startswith("_")}


_TOKEN = re.compile(r"[a-z0-9][a-z0-9'’-]*")
_LEAD_IN = re.compile(r"^[\"“'‘(\[]?[A-Z0-9][^\s:|»►]*(?:\s+[^\s:|»►]+){0,4}?\s*(?::|\||»|►|–|—|\s-\s)")
_SENTENCE_END = re.compile(r"[.!?][\"”’)]?\s+[\"“'‘(]?[A-Z]")
_URL = re.compile(r"https?://|www\.|\.com\b|\.org\b|\.net\b|\.co\.uk\b|\.in\b/")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+")
_HANDLE = re.compile(r"(?:^|\s)@\w")
_COPYRIGHT = re.compile(r"©|\(c\)|\bcopyright\b", re.IGNORECASE)
_SEPARATOR = re.compile(r"[|»►→•▶︎]")
_MONEY = re.compile(r"[$€£₹¥]")
_TERMINAL = frozenset(".!?\"”’')…")
_QUOTES = frozenset("\"“”")

SHAPE_NAMES = (
    "log_chars", "log_words", "words_le3", "words_le8", "title_ratio", "caps_ratio", "allcaps_words",
    "lead_in", "ends_terminal", "ends_question", "ends_colon", "has_question", "sentences", "digit_ratio",
    "has_url", "has_email", "has_handle", "has_copyright", "has_separator", "has_money", "starts_quote",
    "has_quote", "parenthesised", "first_person", "second_person", "starts_imperative", "promo_cues",
    "boilerplate_cues", "exclaims", "starts_bullet", "multi_line", "starts_lower",
)
POSITION_NAMES = ("relative", "is_first", "is_last", "in_first3", "in_last3", "log_count")
HTML_TAGS = ("heading", "li", "quote", "caption", "cell", "other")


def _shape(text: str, lexicon: dict[str, frozenset[str]]) -> list[float]:
    words = text.split()
    n_words = len(words) or 1
    tokens = _TOKEN.findall(text.lower())
    n_tokens = len(tokens) or 1
    long_words = [w for w in words if len(w) > 3 and w[0].isalpha()]
    title_ratio = sum(w[0].isupper() for w in long_words) / len(long_words) if long_words else 0.0
    letters = [c for c in text if c.isalpha()]
    caps_ratio = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
    alpha_words = [w for w in words if len(w) > 1 and w.isalpha()]
    allcaps = sum(w.isupper() for w in alpha_words) / len(alpha_words) if alpha_words else 0.0
    last = text[-1] if text else ""
    first_token = tokens[0] if tokens else ""
    digits = sum(c.isdigit() for c in text)
    promo_hits = sum(t in lexicon["promo_words"] for t in tokens)
    boiler_hits = sum(t in lexicon["boilerplate_words"] for t in tokens)
    return [
        math.log1p(len(text)) / 8.0,
        math.log1p(len(words)) / 6.0,
        float(len(words) <= 3),
        float(len(words) <= 8),
        title_ratio,
        caps_ratio,
        allcaps,
        float(_LEAD_IN.match(text) is not None),
        float(last in _TERMINAL),
        float(last == "?"),
        float(last == ":"),
        float("?" in text),
        min(len(_SENTENCE_END.findall(text)), 4) / 4.0,
        min(digits / max(len(text), 1) * 5.0, 1.0),
        float(_URL.search(text) is not None),
        float(_EMAIL.search(text) is not None),
        float(_HANDLE.search(text) is not None),
        float(_COPYRIGHT.search(text) is not None),
        float(_SEPARATOR.search(text) is not None),
        float(_MONEY.search(text) is not None),
        float(text[:1] in _QUOTES or text[:1] in "‘'"),
        float(any(c in _QUOTES for c in text)),
        float(text.startswith("(") or text.startswith("[")),
        min(sum(t in lexicon["first_person_plural"] for t in tokens) / n_tokens * 10.0, 1.0),
        min(sum(t in lexicon["second_person"] for t in tokens) / n_tokens * 10.0, 1.0),
        float(first_token in lexicon["imperatives"]),
        min(promo_hits, 4) / 4.0,
        min(boiler_hits, 4) / 4.0,
        float("!" in text),
        float(text[:1] in "-*•–—►▶»"),
        float("\n" in text),
        float(text[:1].islower()),
    ]


def _position(position: int, count: int) -> list[float]:
    from_end = count - 1 - position
    return [
        position / (count - 1) if count > 1 else 0.0,
        float(position == 0),
        float(from_end == 0),
        float(position < 3),
        float(from_end < 3),
        math.log1p(count) / 4.0,
    ]


def _html(paragraph: Paragraph, container_cues: tuple[str, ...]) -> list[float]:
    if not paragraph.tag:
        return [0.0] * (2 + len(HTML_TAGS) + len(container_cues))
    tag = paragraph.tag.lower()
    kind = (
        "heading" if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}
        else "li" if tag in {"li", "dt", "dd"}
        else "quote" if tag in {"blockquote", "q"}
        else "caption" if tag in {"figcaption", "caption"}
        else "cell" if tag in {"td", "th"}
        else "other" if tag not in {"p", "div"}
        else ""
    )
    container = set(re.split(r"[^a-z0-9]+", paragraph.container.lower()))
    return (
        [1.0, min(max(paragraph.link_density, 0.0), 1.0)]
        + [float(kind == k) for k in HTML_TAGS]
        + [float(cue in container) for cue in container_cues]
    )


def _head_tail(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + " … " + text[-TAIL_CHARS:]


class ParagraphFeaturizer(TransformerMixin, BaseEstimator):
    """Featurize :class:`ParagraphRow` samples; see the module docstring for the column blocks."""

    def __init__(self, language: str = "en", word_max_features: int = 20000, min_df: int = 2) -> None:
        self.language = language
        self.word_max_features = word_max_features
        self.min_df = min_df

    def fit(self, rows: Sequence[ParagraphRow], y: object = None) -> "ParagraphFeaturizer":
        lexicon = load_lexicon(self.language)
        self.container_cues_ = tuple(sorted(lexicon["container_cues"]))
        self.words_ = TfidfVectorizer(
            ngram_range=(1, 2), min_df=self.min_df, max_features=self.word_max_features,
            sublinear_tf=True, token_pattern=r"(?u)\b\w+\b|[:|?»►©@$!]", dtype=np.float32,
        ).fit([_head_tail(r.paragraph.text) for r in rows])
        self.lead_ = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 4), min_df=self.min_df, sublinear_tf=True,
            dtype=np.float32,
        ).fit([r.paragraph.text[:LEAD_CHARS] for r in rows])
        self.feature_names_ = self._names()
        return self

    def _names(self) -> np.ndarray:
        own = [f"shape:{n}" for n in SHAPE_NAMES]
        lead = [f"lead:{n}" for n in self.lead_.get_feature_names_out()]
        names = (
            ["ctx:has_prev", "ctx:has_next"]
            + own
            + [f"pos:{n}" for n in POSITION_NAMES]
            + ["html:is_html", "html:link_density"]
            + [f"html:tag={t}" for t in HTML_TAGS]
            + [f"html:container={c}" for c in self.container_cues_]
            + [f"prev:{n}" for n in own + lead]
            + [f"next:{n}" for n in own + lead]
            + [f"word:{n}" for n in self.words_.get_feature_names_out()]
            + lead
        )
        return np.asarray(names, dtype=object)

    def transform(self, rows: Sequence[ParagraphRow]) -> sp.csr_matrix:
        check_is_fitted(self, "feature_names_")
        lexicon = load_lexicon(self.language)
        n = len(rows)
        prev, nxt = neighbour_indices(rows)
        shape = np.asarray([_shape(r.paragraph.text, lexicon) for r in rows], dtype=np.float32)
        shape = shape.reshape(n, len(SHAPE_NAMES))
        position = np.asarray([_position(r.position, r.count) for r in rows], dtype=np.float32)
        position = position.reshape(n, len(POSITION_NAMES))
        html = np.asarray([_html(r.paragraph, self.container_cues_) for r in rows], dtype=np.float32)
        html = html.reshape(n, 2 + len(HTML_TAGS) + len(self.container_cues_))
        lead = self.lead_.transform([r.paragraph.text[:LEAD_CHARS] for r in rows])
        words = self.words_.transform([_head_tail(r.paragraph.text) for r in rows])
        own = sp.hstack([sp.csr_matrix(shape), lead], format="csr")
        context = np.column_stack([prev >= 0, nxt >= 0]).astype(np.float32)
        return sp.hstack(
            [
                sp.csr_matrix(context), sp.csr_matrix(shape), sp.csr_matrix(position), sp.csr_matrix(html),
                _shift(own, prev), _shift(own, nxt), words, lead,
            ],
            format="csr", dtype=np.float32,
        )

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_")
        return self.feature_names_


def _shift(matrix: sp.csr_matrix, source: np.ndarray) -> sp.csr_matrix:
    """Row i of the result is row ``source[i]`` of ``matrix``, or zeros where ``source[i]`` is -1."""
    n = matrix.shape[0]
    valid = np.flatnonzero(source >= 0)
    selector = sp.csr_matrix(
        (np.ones(len(valid), dtype=np.float32), (valid, source[valid])), shape=(n, n)
    )
    return selector @ matrix
