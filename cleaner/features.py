"""Features: turn paragraphs (with their place in the article) into one sparse matrix row each.

The featurizer is a scikit-learn transformer that lives inside the persisted model pipeline, so training
and inference cannot drift apart. Its input rows are :class:`ParagraphRow` tuples; rows of one article
must be contiguous and in order, which is what lets it see each paragraph's neighbours.

Work is split in two so the cleaner can re-score survivors cheaply: :meth:`ParagraphFeaturizer.own`
computes what depends on a paragraph alone (once per paragraph), :meth:`ParagraphFeaturizer.assemble`
adds position and neighbours for a given arrangement of paragraphs.

Column blocks (all named, see ``get_feature_names_out``); the first ``dense_width()`` columns are dense:
- ``ctx:has_prev``, ``ctx:has_next``: always the first two columns; the classifier uses them to find
  neighbours when it smooths its first-pass scores.
- ``shape:*``: length, case pattern, "Label:" lead-in, punctuation, question, digits, links/handles,
  cue-word counts from the lexicon, headline/subhead/agency-code/bio shapes.
- ``pos:*``: position in the article.
- ``article:*``: how the paragraph sits in its article (share of subheads and lead-ins, relative length,
  words shared with the other paragraphs: a headline about another story shares few).
- ``html:*``: tag, link density and container class/id cues (zero for plain text).
- ``prev:shape:*`` / ``next:shape:*``: the shape of the neighbouring paragraphs (dense).
- ``word:*``: word uni/bi-grams of the paragraph (head and tail only: promo cues sit there).
- ``lead:*``: character 3/4-grams of the opening, where "See Also:" or "Photo:" live, plus its first
  words by position.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from functools import lru_cache
from itertools import chain, compress, repeat
from operator import add, contains, eq, itemgetter
from importlib import resources
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from cleaner.segment import Paragraph

__all__ = [
    "ParagraphRow", "Arrangement", "OwnFeatures", "ParagraphFeaturizer", "rows_for_articles", "neighbour_indices",
    "load_lexicon",
]

HEAD_CHARS = 200  # word n-grams and cue counts look at the head and tail of long paragraphs only: the
TAIL_CHARS = 80  # cues live there, and it bounds the cost per paragraph whatever its length.
LEAD_CHARS = 28  # character n-grams of the opening: "See Also:", "READ MORE |", "Photo:".
LEAD_WORDS = 3
CASE_TOKENS = 40  # case-pattern features look at the opening tokens only


class ParagraphRow(NamedTuple):
    """A paragraph with its place in the article: the classifier's input sample."""

    paragraph: Paragraph
    position: int
    count: int


def rows_for_articles(articles: Iterable[Sequence[Paragraph]]) -> list[ParagraphRow]:
    """Flatten articles into contiguous rows, in order."""
    return [
        ParagraphRow(paragraph, position, len(article))
        for article in articles
        for position, paragraph in enumerate(article)
    ]


class Arrangement(NamedTuple):
    """Where each row sits in its article: its position and the article's paragraph count. Rows of an
    article are contiguous and in order."""

    position: np.ndarray
    count: np.ndarray

    @classmethod
    def of_rows(cls, rows: Sequence[ParagraphRow]) -> "Arrangement":
        return cls(
            np.fromiter((r.position for r in rows), dtype=np.int64, count=len(rows)),
            np.fromiter((r.count for r in rows), dtype=np.int64, count=len(rows)),
        )

    @classmethod
    def of_lengths(cls, lengths: Sequence[int]) -> "Arrangement":
        """Articles of these paragraph counts, one after another."""
        count = np.repeat(np.asarray(lengths, dtype=np.int64), lengths)
        first = np.repeat(np.cumsum(lengths, dtype=np.int64) - lengths, lengths)
        return cls(np.arange(len(count)) - first, count)

    def neighbours(self) -> tuple[np.ndarray, np.ndarray]:
        """Index of each row's previous and next paragraph in the same article, or -1."""
        position, count = self
        n = len(position)
        index = np.arange(n)
        step = np.diff(position) == 1  # row i+1 continues row i's article
        prev = np.full(n, -1, dtype=np.int64)
        nxt = np.full(n, -1, dtype=np.int64)
        has_prev = np.concatenate([[False], step]) & (position > 0)
        has_next = np.concatenate([step, [False]]) & (position < count - 1)
        prev[has_prev] = index[has_prev] - 1
        nxt[has_next] = index[has_next] + 1
        return prev, nxt


def neighbour_indices(rows: Sequence[ParagraphRow]) -> tuple[np.ndarray, np.ndarray]:
    """Index of each row's previous and next paragraph in the same article, or -1."""
    return Arrangement.of_rows(rows).neighbours()


@lru_cache(maxsize=4)
def load_lexicon(language: str = "en") -> dict[str, frozenset[str]]:
    """Cue-word lists for one language, from ``cleaner/lexicon/<language>.json``."""
    raw = json.loads(resources.files("cleaner.lexicon").joinpath(f"{language}.json").read_text("utf-8"))
    return {key: frozenset(values) for key, values in raw.items() if not key.startswith("_")}


_TOKEN = re.compile(r"\w+(?:['’-]\w+)*|[:|?»►©@$!]")
_LEAD_IN = re.compile(r"^[\"“'‘(\[]?[A-Z0-9][^\s:|»►]*(?:\s+[^\s:|»►]+){0,4}?\s*(?::|\||»|►|–|—|\s-\s)")
_LEAD_IN_ENDS = (":", "|", "»", "►", "–", "—", "-")  # a lead-in ends with one of these
_SENTENCE_END = re.compile(r"[.!?][\"”’)]?\s+[\"“'‘(]?[A-Z]")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+")
_HANDLE = re.compile(r"(?:^|\s)@\w")
_AGENCY_CODE = re.compile(r"^[a-z]{1,5}(?:[-/][a-z]{1,5}){1,6}$")
_BIO_OPENING = re.compile(r"^(?:[A-Z][\w.'’-]+ ){1,3}(?:is|was|covers|reports|writes|has|joined|leads|edits|spent|previously)\b")
# "LM Otero/AP", "Mara Kessling for The Review", "Photo courtesy of ...": a credit line, not a sentence.
_CREDIT_LINE = re.compile(
    r"^[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,3} ?(?:/|for|via) ?[A-Z@][\w.'’&-]*(?: [A-Z][\w.'’&-]*){0,4}$"
    r"|^(?i:(?:photo|image|picture)s? courtesy)\b"
)
# "Acme Corp. is a leading provider of ...", "Founded in 1998, Acme ...": the stock company description.
_COMPANY_DESCRIPTION = re.compile(
    r"^(?:[Ff]ounded in \d{4}\b|(?:[A-Z][\w.&'’-]*,? ){1,6}(?:is|are) (?:a|an|the)\b"
    r"(?:[^.]{0,80}?)\b(?:company|firm|provider|developer|maker|manufacturer|leader|organization|organisation|"
    r"agency|platform|network|group|bank|utility|cooperative|nonprofit|studio|fund|operator|supplier|startup))"
)
# Substrings whose presence is a feature, each tested with ``in`` (many times faster than a regex search).
_SEPARATORS = tuple("|»►→•▶")
_CURRENCIES = tuple("$€£₹¥")
_QUOTES = tuple('"“”')
_URL_HINTS = ("http", "www.", ".com", ".org", ".net", ".co.uk")  # in the lower-cased text
_COPYRIGHT_HINTS = ("©", "copyright", "(c)")  # likewise
_TERMINAL = frozenset(".!?\"”’')…")
_OPENING_QUOTES = frozenset("\"“‘'")

SHAPE_NAMES = (
    "log_chars", "log_words", "words_le3", "words_le8", "title_ratio", "caps_ratio", "allcaps_words",
    "lead_in", "ends_terminal", "ends_question", "ends_colon", "has_question", "sentences", "digit_ratio",
    "has_url", "has_email", "has_handle", "has_copyright", "has_separator", "has_money", "starts_quote",
    "has_quote", "parenthesised", "first_person", "second_person", "starts_imperative", "promo_cues",
    "boilerplate_cues", "exclaims", "starts_bullet", "multi_line", "starts_lower", "headline_like",
    "subhead_like", "agency_code", "bio_opening", "title_after_lead_in", "credit_line", "company_description",
)
# No article-length feature: lengths are a house trait, and trees learned publisher quirks from it.
POSITION_NAMES = ("relative", "is_first", "is_last", "in_first3", "in_last3")
ARTICLE_NAMES = (
    "share_subhead_like", "share_lead_in", "relative_length", "overlap", "overlap_names", "similarity",
)
HTML_TAGS = ("heading", "li", "quote", "caption", "cell", "other")
_LEXICON_BITS = ("promo_words", "boilerplate_words", "first_person_plural", "second_person")


def _tokenize(texts: Sequence[str]) -> list[list[str]]:
    """The tokens of each paragraph's head and tail, as written."""
    return [_TOKEN.findall(_head_tail(t)) for t in texts]


def _head_tail(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + " … " + text[-TAIL_CHARS:]


@lru_cache(maxsize=4)
def _cue_table(language: str) -> tuple[dict[str, int], np.ndarray]:
    """Cue word -> row of a 0/1 table of its membership in each lexicon list (``_LEXICON_BITS``), so one
    look-up per token counts all of them."""
    lexicon = load_lexicon(language)
    words = sorted(set().union(*(lexicon[name] for name in _LEXICON_BITS)))
    table = np.asarray([[w in lexicon[name] for name in _LEXICON_BITS] for w in words], dtype=np.float64)
    return {w: i for i, w in enumerate(words)}, table.reshape(len(words), len(_LEXICON_BITS))


_LATIN = 0x250  # Basic Latin to Latin Extended-B: the character flags of these come from a table


def _flags_of(codes: Iterable[int]) -> np.ndarray:
    """``str.isalpha``, ``isupper`` and ``isdigit`` of each code point, one row each."""
    return np.asarray([(c.isalpha(), c.isupper(), c.isdigit()) for c in map(chr, codes)], dtype=bool).reshape(-1, 3)


@lru_cache(maxsize=1)
def _latin_flags() -> np.ndarray:
    return _flags_of(range(_LATIN))


def _char_flags(chars: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``str.isalpha``, ``isupper`` and ``isdigit`` of every character of ``chars``, as arrays: looked
    up in a table for Latin script, and asked of the string methods once per distinct other character."""
    codes = _code_points(chars)
    flags = _latin_flags()[np.minimum(codes, _LATIN - 1)]
    other = np.flatnonzero(codes >= _LATIN)
    if len(other):
        distinct, inverse = np.unique(codes[other], return_inverse=True)
        flags[other] = _flags_of(distinct.tolist())[inverse]
    return flags[:, 0], flags[:, 1], flags[:, 2]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0."""
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


class _TokenTable(NamedTuple):
    """The tokens of a batch of paragraphs, flat, with what the features ask of each token."""

    words: list[str]  # as written
    lowered: list[str]
    paragraph: np.ndarray  # which paragraph each token is from
    counts: np.ndarray  # tokens per paragraph
    starts: np.ndarray  # index of each paragraph's first token
    position: np.ndarray  # place of each token in its paragraph
    length: np.ndarray
    alpha: np.ndarray  # its first character is a letter
    upper: np.ndarray  # ... is upper case
    digit: np.ndarray  # ... is a digit


def _token_table(tokens: Sequence[list[str]]) -> _TokenTable:
    """Flatten the head-and-tail tokens of many paragraphs into one table."""
    counts = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    words = list(chain.from_iterable(tokens))
    paragraph = np.repeat(np.arange(len(tokens)), counts)
    starts = np.cumsum(counts) - counts
    alpha, upper, digit = _char_flags("".join(map(itemgetter(0), words)))
    return _TokenTable(
        words, _lower_flat(words), paragraph, counts, starts,
        np.arange(len(words)) - starts[paragraph], np.fromiter(map(len, words), dtype=np.int64, count=len(words)),
        alpha, upper, digit,
    )


def _shapes(texts: Sequence[str], table: _TokenTable, language: str) -> np.ndarray:
    """Shape features (``SHAPE_NAMES``) of many paragraphs, one row each.

    ``table`` holds the tokens of each paragraph's head and tail. This runs for every paragraph, so it
    works column by column over the whole batch: each test is one C-level pass (``map`` of a string
    method or a compiled pattern, or numpy over all tokens at once) instead of a Python loop per paragraph.
    """
    n = len(texts)
    flat, flat_lower, paragraph, counts, starts, position, length, alpha, upper, digit = table

    def per_paragraph(mask: np.ndarray) -> np.ndarray:
        return np.bincount(paragraph, weights=mask, minlength=n)

    def flags(values: Iterable[object]) -> np.ndarray:
        return np.fromiter(map(bool, values), dtype=bool, count=n)

    def contains_any(strings: Sequence[str], needles: Sequence[str]) -> np.ndarray:
        found = np.zeros(n, dtype=bool)
        for needle in needles:
            found |= flags(map(contains, strings, repeat(needle)))
        return found

    def matches(method: Callable[[str], object], where: np.ndarray) -> np.ndarray:
        """``method`` (a pattern's match or search) on the texts where ``where`` holds; False elsewhere,
        where a cheap test has already shown it cannot match."""
        chosen = list(compress(texts, where.tolist()))
        found = np.zeros(n, dtype=bool)
        found[where] = np.fromiter(map(bool, map(method, chosen)), dtype=bool, count=len(chosen))
        return found

    # Token level. Case counts look at the opening tokens only: a Title-Case pitch shows itself early.
    opening = alpha & (position < CASE_TOKENS)
    long_opening = opening & (length > 3)
    all_caps = opening & (length > 1) & np.fromiter(map(str.isupper, flat), dtype=bool, count=len(flat))
    n_alpha = per_paragraph(opening)
    n_tokens = np.maximum(counts, 1)
    cue_row, cue_bits = _cue_table(language)
    rows = np.fromiter(map(cue_row.get, flat_lower, repeat(-1)), dtype=np.int64, count=len(flat_lower))
    hit = rows >= 0
    hits = [np.bincount(paragraph[hit], weights=cue_bits[rows[hit], k], minlength=n) for k in range(cue_bits.shape[1])]
    # "See Also: Title Case Headline" vs "What Happened: The company said ...": the case of the long
    # words after the label (the 2nd to the 12th) tells a promo headline from a body lead-in.
    long_word = alpha & (length > 3)
    seen = np.cumsum(long_word)
    rank = seen - 1 - np.concatenate([[0], seen])[starts][paragraph]  # among the paragraph's long words
    after = long_word & (rank >= 1) & (rank < 12)

    # Paragraph level.
    n_chars = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    lower = list(map(str.lower, texts))
    first_chars = list(map(itemgetter(slice(0, 1)), texts))
    last_chars = list(map(itemgetter(slice(-1, None)), texts))
    short = n_chars < 400
    words = counts.copy()  # long paragraphs: the head-and-tail tokens stand in for the word count
    words[short] = np.fromiter(map(len, map(str.split, compress(texts, short.tolist()))), dtype=np.int64)
    terminal = flags(map(_TERMINAL.__contains__, last_chars))
    lead_in = matches(_LEAD_IN.match, contains_any(texts, _LEAD_IN_ENDS))
    has_at = contains_any(texts, ("@",))
    imperatives = load_lexicon(language)["imperatives"]
    opened = np.flatnonzero(counts > 0)
    imperative = np.zeros(n, dtype=bool)
    imperative[opened] = [flat_lower[i] in imperatives for i in starts[opened].tolist()]
    columns = {
        "log_chars": np.fromiter(map(math.log1p, n_chars.tolist()), dtype=np.float64, count=n) / 8.0,
        "log_words": np.fromiter(map(math.log1p, words.tolist()), dtype=np.float64, count=n) / 6.0,
        "words_le3": words <= 3,
        "words_le8": words <= 8,
        "title_ratio": _ratio(per_paragraph(long_opening & upper), per_paragraph(long_opening)),
        "caps_ratio": _ratio(per_paragraph(opening & upper), n_alpha),
        "allcaps_words": _ratio(per_paragraph(all_caps), n_alpha),
        "lead_in": lead_in,
        "ends_terminal": terminal,
        "ends_question": flags(map(eq, last_chars, repeat("?"))),
        "ends_colon": flags(map(eq, last_chars, repeat(":"))),
        "has_question": contains_any(texts, ("?",)),
        "sentences": np.minimum(np.fromiter(map(len, map(_SENTENCE_END.findall, texts)), dtype=np.int64, count=n), 4) / 4.0,
        "digit_ratio": np.minimum(per_paragraph(digit) / n_tokens * 3.0, 1.0),
        "has_url": contains_any(lower, _URL_HINTS),
        "has_email": matches(_EMAIL.search, has_at),
        "has_handle": matches(_HANDLE.search, has_at),
        "has_copyright": contains_any(lower, _COPYRIGHT_HINTS),
        "has_separator": contains_any(texts, _SEPARATORS),
        "has_money": contains_any(texts, _CURRENCIES),
        "starts_quote": flags(map(_OPENING_QUOTES.__contains__, first_chars)),
        "has_quote": contains_any(texts, _QUOTES),
        "parenthesised": flags(map(contains, repeat("(["), first_chars)),
        "first_person": np.minimum(hits[2] / n_tokens * 10.0, 1.0),
        "second_person": np.minimum(hits[3] / n_tokens * 10.0, 1.0),
        "starts_imperative": imperative,
        "promo_cues": np.minimum(hits[0], 4) / 4.0,
        "boilerplate_cues": np.minimum(hits[1], 4) / 4.0,
        "exclaims": contains_any(texts, ("!",)),
        "starts_bullet": flags(map(contains, repeat("-*•–—►▶»"), first_chars)),
        "multi_line": contains_any(texts, ("\n",)),
        "starts_lower": flags(map(str.islower, first_chars)),
        "headline_like": ~terminal & (words >= 5) & (words <= 20),
        "subhead_like": ~terminal & (words <= 4),
        "agency_code": flags(map(_AGENCY_CODE.match, texts)),
        "bio_opening": flags(map(_BIO_OPENING.match, texts)),
        "title_after_lead_in": np.where(lead_in, _ratio(per_paragraph(after & upper), per_paragraph(after)), 0.0),
        "credit_line": matches(_CREDIT_LINE.match, n_chars < 90),
        "company_description": flags(map(_COMPANY_DESCRIPTION.match, texts)),
    }
    return np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in SHAPE_NAMES]).astype(np.float32)


def _positions(position: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Position features for every row (see POSITION_NAMES)."""
    from_end = count - 1 - position
    relative = np.divide(position, count - 1, out=np.zeros_like(position), where=count > 1)
    return np.column_stack([relative, position == 0, from_end == 0, position < 3, from_end < 3]).astype(np.float32)


def _html(paragraph: Paragraph, container_cues: tuple[str, ...]) -> list[float]:
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


def _lower_flat(words: Sequence[str]) -> list[str]:
    """Every token lower-cased, in one str.lower over all of them (tokens never contain the separator,
    and lower-casing never makes one), instead of one call per token."""
    return "\x00".join(words).lower().split("\x00") if words else []


def _lowered(tokens: list[list[str]]) -> list[list[str]]:
    """The tokens of each paragraph lower-cased (see :func:`_lower_flat`)."""
    flat = _lower_flat(list(chain.from_iterable(tokens)))
    out = []
    start = 0
    for ts in tokens:
        stop = start + len(ts)
        out.append(flat[start:stop])
        start = stop
    return out


def _word_terms(tokens: list[str]) -> list[str]:
    return tokens + [a + " " + b for a, b in zip(tokens, tokens[1:])]


_POSITION_PREFIXES = tuple(f"#{i}=" for i in range(LEAD_WORDS))


def _opening(text: str) -> str:
    """The opening whose character n-grams are lead terms: lower-cased, spaces squashed, padded."""
    return " " + " ".join(text[:LEAD_CHARS].lower().split()) + " "


def _lead_terms(text: str, tokens: list[str]) -> list[str]:
    lead = _opening(text)
    terms = [lead[i:i + 3] for i in range(len(lead) - 2)] + [lead[i:i + 4] for i in range(len(lead) - 3)]
    return terms + [prefix + t for prefix, t in zip(_POSITION_PREFIXES, tokens)]


class _Vocabulary:
    """Term -> column map with idf weights; rows are binary, idf-weighted, L2-normalised.

    A small hand-rolled vectorizer: scikit-learn's text vectorizers count terms one by one in Python,
    which made them the slowest stage of the cleaner; this one looks terms up in bulk.
    """

    def __init__(self, documents: Sequence[Sequence[str]], min_df: int, max_features: int | None) -> None:
        df = Counter(term for doc in documents for term in set(doc))
        kept = sorted((t for t, n in df.items() if n >= min_df), key=lambda t: (-df[t], t))[:max_features]
        kept.sort()
        self.terms = kept
        self.index = {term: i for i, term in enumerate(kept)}
        n_docs = len(documents)
        self.idf = np.asarray([math.log((1 + n_docs) / (1 + df[t])) + 1.0 for t in kept], dtype=np.float32)

    def __getstate__(self) -> dict[str, object]:
        # Pickled as one JSON string and one array, not tens of thousands of str objects: joblib's
        # unpickler is pure Python, and per-object work made loading the model take a third of a second
        # in every process (and every batch worker). The index is rebuilt on load, in C.
        return {"terms_json": json.dumps(self.terms, ensure_ascii=False), "idf": self.idf}

    def __setstate__(self, state: dict[str, object]) -> None:
        if "terms_json" not in state:  # pickled by an earlier version: the attributes themselves
            self.__dict__.update(state)
            return
        self.terms = json.loads(state["terms_json"])  # type: ignore[arg-type]
        self.index = dict(zip(self.terms, range(len(self.terms))))
        self.idf = state["idf"]  # type: ignore[assignment]

    def transform(self, documents: Sequence[Sequence[str]]) -> sp.csr_matrix:
        lengths = np.fromiter(map(len, documents), dtype=np.int64, count=len(documents))
        terms = list(chain.from_iterable(documents))
        # One dict lookup per term (unknown terms give -1); everything after that runs in numpy.
        columns = np.fromiter(map(self.index.get, terms, repeat(-1)), dtype=np.int64, count=len(terms))
        rows = np.repeat(np.arange(len(documents)), lengths)
        known = columns >= 0
        return self.matrix(rows[known], columns[known], len(documents))

    def matrix(self, rows: np.ndarray, columns: np.ndarray, n: int) -> sp.csr_matrix:
        """The rows of ``n`` documents from the (row, column) pairs of the terms found in them."""
        matrix = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(n, len(self.terms))
        )
        matrix.sum_duplicates()  # in C: repeated terms merge, indices come out sorted
        matrix.data = self.idf[matrix.indices]  # binary presence, idf-weighted
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms).astype(np.float32) @ matrix)


def _find(keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``wanted`` are in the sorted array ``keys``, and where."""
    at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    found = keys[at] == wanted if len(keys) else np.zeros(len(wanted), dtype=bool)
    return found, at[found]


class _WordMatcher:
    """Finds a word vocabulary's terms (``_word_terms``: tokens and pairs of tokens) in a token table.

    Every word of the vocabulary gets a number; each token is looked up once, and its bigrams with the
    next token are found as pairs of numbers in numpy, instead of joining and looking up each pair.
    """

    def __init__(self, vocabulary: _Vocabulary) -> None:
        self.numbers: dict[str, int] = {}
        unigrams: list[tuple[int, int]] = []
        bigrams: list[tuple[int, int, int]] = []
        for column, term in enumerate(vocabulary.terms):
            words = [self.numbers.setdefault(w, len(self.numbers)) for w in term.split(" ")]
            if len(words) == 1:
                unigrams.append((words[0], column))
            else:  # tokens hold no spaces, so a term with one space is a pair of tokens
                bigrams.append((words[0], words[1], column))
        size = len(self.numbers)
        self.unigram_column = np.full(size + 1, -1, dtype=np.int64)  # the last entry answers "unknown" (-1)
        for number, column in unigrams:
            self.unigram_column[number] = column
        pairs = np.asarray(bigrams, dtype=np.int64).reshape(-1, 3)
        keys = pairs[:, 0] * size + pairs[:, 1]
        order = np.argsort(keys)
        self.size, self.bigram_keys, self.bigram_columns = size, keys[order], pairs[order, 2]

    def find(self, table: "_TokenTable") -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every vocabulary term in each paragraph of ``table``."""
        number = np.fromiter(
            map(self.numbers.get, table.lowered, repeat(-1)), dtype=np.int64, count=len(table.lowered)
        )
        unigram = self.unigram_column[number]
        known = unigram >= 0
        first, second = number[:-1], number[1:]
        pair = (table.paragraph[:-1] == table.paragraph[1:]) & (first >= 0) & (second >= 0)
        found, at = _find(self.bigram_keys, first[pair] * self.size + second[pair])
        return (
            np.concatenate([table.paragraph[known], table.paragraph[:-1][pair][found]]),
            np.concatenate([unigram[known], self.bigram_columns[at]]),
        )


class _LeadMatcher:
    """Finds a lead vocabulary's terms (``_lead_terms``) in a batch of paragraphs.

    The character 3- and 4-grams of every opening are read off one array of code points (each character
    numbered within the vocabulary's alphabet, an n-gram a number in base of its size), and looked up in
    numpy; only the few word-position terms are looked up as strings.
    """

    def __init__(self, vocabulary: _Vocabulary) -> None:
        self.index = vocabulary.index
        grams = [(t, c) for c, t in enumerate(vocabulary.terms) if len(t) in (3, 4)]
        self.alphabet = np.unique(_code_points("".join(t for t, _ in grams)))
        self.base = len(self.alphabet) + 1
        self.keys: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for n in (3, 4):
            terms = [(t, c) for t, c in grams if len(t) == n]
            digits = np.searchsorted(self.alphabet, _code_points("".join(t for t, _ in terms))).reshape(-1, n)
            keys = self._number(digits)
            order = np.argsort(keys)
            self.keys[n] = keys[order], np.asarray([c for _, c in terms], dtype=np.int64)[order]

    def _digits(self, codes: np.ndarray) -> np.ndarray:
        """Each code point's number in the alphabet, or -1 for a character that no term has."""
        found, at = _find(self.alphabet, codes.ravel())
        digits = np.full(codes.size, -1, dtype=np.int64)
        digits[found] = at
        return digits.reshape(codes.shape)

    def _number(self, digits: np.ndarray) -> np.ndarray:
        """Each row of digits as one number (an n-gram's key)."""
        key = np.zeros(digits.shape[0], dtype=np.int64)
        for k in range(digits.shape[1]):
            key = key * self.base + digits[:, k]
        return key

    def find(self, texts: Sequence[str], table: "_TokenTable") -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every vocabulary term in each paragraph's opening."""
        leads = list(map(_opening, texts))
        n = len(leads)
        length = np.fromiter(map(len, leads), dtype=np.int64, count=n)
        width = int(length.max()) if n else 0
        digit = self._digits(_code_points("".join(lead.ljust(width, "\x00") for lead in leads)).reshape(n, width))
        rows, columns = [], []
        for size, (keys, key_columns) in self.keys.items():
            if width < size:
                continue
            windows = np.lib.stride_tricks.sliding_window_view(digit, size, axis=1)  # (n, starts, size)
            usable = (length[:, None] >= np.arange(size, width + 1)[None, :]) & (windows >= 0).all(axis=2)
            found, hit = _find(keys, self._number(windows[usable]))
            rows.append(np.nonzero(usable)[0][found])
            columns.append(key_columns[hit])
        # Word-position terms ("#0=see"): a handful per paragraph, looked up as strings.
        opening = np.flatnonzero(table.position < LEAD_WORDS)
        prefixes = map(_POSITION_PREFIXES.__getitem__, table.position[opening].tolist())
        terms = list(map(add, prefixes, map(table.lowered.__getitem__, opening.tolist())))
        column = np.fromiter(map(self.index.get, terms, repeat(-1)), dtype=np.int64, count=len(terms))
        rows.append(table.paragraph[opening][column >= 0])
        columns.append(column[column >= 0])
        return np.concatenate(rows), np.concatenate(columns)


def _matcher(vocabulary: _Vocabulary, kind: type) -> Any:
    """The vocabulary's matcher of that kind, built on first use (it is not pickled with the model)."""
    if not isinstance(vocabulary.__dict__.get("matcher"), kind):
        vocabulary.matcher = kind(vocabulary)
    return vocabulary.matcher


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)


class OwnFeatures(NamedTuple):
    """What depends on a paragraph alone, computed once per paragraph."""

    shape: np.ndarray  # dense, (n, len(SHAPE_NAMES))
    html: np.ndarray  # dense
    lead: sp.csr_matrix
    words: sp.csr_matrix
    content: sp.csr_matrix  # set of content words (binary row), for overlap with the rest of the article
    names: sp.csr_matrix  # set of capitalised words (names, places), likewise

    def take(self, index: np.ndarray) -> "OwnFeatures":
        return OwnFeatures(*(block[index] for block in self))


class ParagraphFeaturizer(TransformerMixin, BaseEstimator):
    """Featurize :class:`ParagraphRow` samples; see the module docstring for the column blocks."""

    def __init__(self, language: str = "en", word_max_features: int = 20000, min_df: int = 2) -> None:
        self.language = language
        self.word_max_features = word_max_features
        self.min_df = min_df

    def _texts_and_tokens(
        self, paragraphs: Sequence[Paragraph]
    ) -> tuple[list[str], list[list[str]], list[list[str]]]:
        """Texts, head-and-tail tokens as written, and the same tokens lower-cased."""
        texts = [p.text for p in paragraphs]
        tokens = _tokenize(texts)
        return texts, tokens, _lowered(tokens)

    def fit(self, rows: Sequence[ParagraphRow], y: object = None) -> "ParagraphFeaturizer":
        lexicon = load_lexicon(self.language)
        self.container_cues_ = tuple(sorted(lexicon["container_cues"]))
        texts, _, lowered = self._texts_and_tokens([r.paragraph for r in rows])
        self.words_ = _Vocabulary([_word_terms(t) for t in lowered], self.min_df, self.word_max_features)
        self.lead_ = _Vocabulary([_lead_terms(x, t) for x, t in zip(texts, lowered)], self.min_df, None)
        self.feature_names_ = self._names()
        return self

    def __getstate__(self) -> dict[str, object]:
        state = dict(super().__getstate__())  # a copy: on Python 3.11 the default is the live __dict__
        state.pop("feature_names_", None)  # about 100,000 strings: rebuilt from the vocabularies on load
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        super().__setstate__(state)
        if "words_" in self.__dict__ and "feature_names_" not in self.__dict__:
            self.feature_names_ = self._names()

    def _names(self) -> np.ndarray:
        own = [f"shape:{n}" for n in SHAPE_NAMES]
        lead = [f"lead:{n}" for n in self.lead_.terms]
        names = (
            ["ctx:has_prev", "ctx:has_next"]
            + own
            + [f"pos:{n}" for n in POSITION_NAMES]
            + [f"article:{n}" for n in ARTICLE_NAMES]
            + ["html:is_html", "html:link_density"]
            + [f"html:tag={t}" for t in HTML_TAGS]
            + [f"html:container={c}" for c in self.container_cues_]
            + [f"prev:{n}" for n in own]
            + [f"next:{n}" for n in own]
            + [f"word:{n}" for n in self.words_.terms]
            + lead
        )
        return np.asarray(names, dtype=object)

    def _dense_blocks(self) -> list[tuple[str, int]]:
        """The dense column blocks in output order, with their widths (known before fitting)."""
        html_width = 2 + len(HTML_TAGS) + len(load_lexicon(self.language)["container_cues"])
        return [
            ("ctx", 2), ("shape", len(SHAPE_NAMES)), ("pos", len(POSITION_NAMES)), ("article", len(ARTICLE_NAMES)),
            ("html", html_width), ("prev", len(SHAPE_NAMES)), ("next", len(SHAPE_NAMES)),
        ]

    def dense_width(self) -> int:
        """How many leading columns of the output are dense (known before fitting)."""
        return sum(width for _, width in self._dense_blocks())

    def own(self, paragraphs: Sequence[Paragraph]) -> OwnFeatures:
        """Features that depend on each paragraph alone."""
        check_is_fitted(self, "feature_names_")
        texts = [p.text for p in paragraphs]
        n = len(texts)
        table = _token_table(_tokenize(texts))
        shape = _shapes(texts, table, self.language)
        html_width = 2 + len(HTML_TAGS) + len(self.container_cues_)
        html = np.zeros((n, html_width), dtype=np.float32)
        for i, paragraph in enumerate(paragraphs):
            if paragraph.tag:
                html[i] = _html(paragraph, self.container_cues_)
        lead = self.lead_.matrix(*_matcher(self.lead_, _LeadMatcher).find(texts, table), n)
        words = self.words_.matrix(*_matcher(self.words_, _WordMatcher).find(table), n)
        long_lowered = np.fromiter(map(len, table.lowered), dtype=np.int64, count=len(table.lowered)) > 4
        content = _word_sets(table.lowered, table.paragraph, long_lowered, n)
        names = _word_sets(table.words, table.paragraph, (table.position > 0) & table.upper & (table.length > 2), n)
        return OwnFeatures(shape, html, lead, words, content, names)

    def first_pass_dense_ranges(self) -> tuple[tuple[int, int], ...]:
        """Dense column ranges that depend on the paragraph alone (shape, html); with every sparse
        column they are what the classifier's first pass reads, once per paragraph."""
        ranges = []
        start = 0
        for name, width in self._dense_blocks():
            if name in ("shape", "html"):
                ranges.append((start, start + width))
            start += width
        return tuple(ranges)

    def own_matrix(self, own: OwnFeatures) -> sp.csr_matrix:
        """The first-pass columns (the output's columns in ``first_pass_dense_ranges`` plus the sparse
        ones, in order), built straight from the paragraph-alone features."""
        return sp.hstack([sp.csr_matrix(own.shape), sp.csr_matrix(own.html), own.words, own.lead],
                         format="csr", dtype=np.float32)

    def assemble_dense(self, own: OwnFeatures, index: np.ndarray, arrangement: Arrangement) -> np.ndarray:
        """The dense columns for the paragraphs ``own[index]`` in that ``arrangement``: what changes when
        paragraphs around them are removed (position, article context, neighbours)."""
        prev, nxt = arrangement.neighbours()
        shape = own.shape[index]
        html = own.html[index]
        dense = np.hstack([
            np.column_stack([prev >= 0, nxt >= 0]).astype(np.float32), shape,
            _positions(arrangement.position.astype(np.float32), arrangement.count.astype(np.float32)),
            _article_context(
                shape, own.content[index], own.names[index], own.words[index], prev
            ),
            html, _shift_dense(shape, prev), _shift_dense(shape, nxt),
        ])
        return dense

    def assemble(self, own: OwnFeatures, rows: Sequence[ParagraphRow]) -> sp.csr_matrix:
        """The full feature matrix for paragraphs arranged as ``rows`` (same order as ``own``)."""
        dense = self.assemble_dense(own, np.arange(len(rows)), Arrangement.of_rows(rows))
        return sp.hstack([sp.csr_matrix(dense), own.words, own.lead], format="csr", dtype=np.float32)

    def transform(self, rows: Sequence[ParagraphRow]) -> sp.csr_matrix:
        return self.assemble(self.own([r.paragraph for r in rows]), rows)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_")
        return self.feature_names_


def _word_sets(words: list[str], paragraph: np.ndarray, keep: np.ndarray, n: int) -> sp.csr_matrix:
    """The set of kept ``words`` of each of ``n`` paragraphs as a binary sparse row, with one column per
    distinct word of the batch (told apart by their hashes)."""
    hashes = np.fromiter(map(hash, compress(words, keep.tolist())), dtype=np.int64, count=int(keep.sum()))
    _, column = np.unique(hashes, return_inverse=True)
    width = int(column.max()) + 1 if len(column) else 0
    sets = sp.csr_matrix((np.ones(len(column), dtype=np.float32), (paragraph[keep], column)), shape=(n, width))
    sets.sum_duplicates()
    sets.data[:] = 1.0
    return sets


def _overlap(sets: sp.csr_matrix, article: np.ndarray) -> np.ndarray:
    """For each paragraph, the share of its words that another paragraph of its article also uses."""
    sizes = np.diff(sets.indptr)
    row = np.repeat(np.arange(sets.shape[0]), sizes)
    _, word_in_article, uses = np.unique(
        article[row] * max(sets.shape[1], 1) + sets.indices, return_inverse=True, return_counts=True
    )
    shared = np.bincount(row, weights=uses[word_in_article] > 1, minlength=sets.shape[0])
    return _ratio(shared, sizes)


def _article_context(
    shape: np.ndarray, content: sp.csr_matrix, names: sp.csr_matrix, words: sp.csr_matrix, prev: np.ndarray,
) -> np.ndarray:
    """Per paragraph, how it sits in its article: subheads come in series, body lead-ins too, and a
    promo headline about another story shares few words with the rest of the article."""
    if len(prev) == 0:
        return np.zeros((0, len(ARTICLE_NAMES)), dtype=np.float32)
    article = np.cumsum(prev < 0) - 1  # rows are contiguous per article; a row without a previous starts one
    sizes = np.bincount(article).astype(np.float32)
    columns = [SHAPE_NAMES.index(n) for n in ("subhead_like", "lead_in", "log_chars")]
    means = np.stack([np.bincount(article, weights=shape[:, c]) / sizes for c in columns], axis=1)[article]
    return np.column_stack(
        [means[:, 0], means[:, 1], shape[:, columns[2]] - means[:, 2], _overlap(content, article), _overlap(names, article),
         _similarity_to_rest(words, article)]
    ).astype(np.float32)


def _similarity_to_rest(words: sp.csr_matrix, article: np.ndarray) -> np.ndarray:
    """Cosine between each paragraph's (L2-normalised) word vector and the sum of the other paragraphs'
    of its article, all in sparse matrix products: a headline about another story scores low."""
    n_articles = int(article.max()) + 1
    membership = sp.csr_matrix((np.ones(len(article), dtype=np.float32), (article, np.arange(len(article)))),
                               shape=(n_articles, len(article)))
    totals = membership @ words  # per article, the sum of its paragraphs' vectors
    own_norm2 = np.asarray(words.multiply(words).sum(axis=1)).ravel()
    total_norm2 = np.asarray(totals.multiply(totals).sum(axis=1)).ravel()[article]
    dot_total = np.asarray(words.multiply(totals[article]).sum(axis=1)).ravel()
    dot_rest = dot_total - own_norm2
    rest_norm2 = np.maximum(total_norm2 - 2.0 * dot_total + own_norm2, 0.0)
    denominator = np.sqrt(own_norm2 * rest_norm2)
    return np.divide(dot_rest, denominator, out=np.zeros_like(dot_rest), where=denominator > 0)


def _shift_dense(matrix: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Row i is row ``source[i]`` of ``matrix``, or zeros where ``source[i]`` is -1."""
    shifted = matrix[np.maximum(source, 0)]
    shifted[source < 0] = 0.0
    return shifted
