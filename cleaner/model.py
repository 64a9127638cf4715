"""Model: the paragraph classifier, and saving/loading it with a verified JSON sidecar.

The classifier works in two passes, as jusText does by hand: a first logistic regression scores each
paragraph on its own features; a second model sees the paragraph's shape and context plus the
first-pass scores of the two paragraphs either side, so that a promo header ("Did You Know?") goes with
the pitch after it while a body lead-in ("What Happened:") between body paragraphs stays. The second
pass is calibrated (sigmoid), so its probabilities can be thresholded directly.

On disk a model is ``NAME.joblib`` plus ``NAME.json`` (versions, labels, feature names, training-data
hash, held-out metrics, threshold, and the SHA-256 of the joblib file). :func:`load_model` checks all of
it before unpickling anything and raises :class:`ModelError` with a one-line message when it is off.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import joblib
import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import ThreadpoolController

from cleaner import __version__
from cleaner.features import ParagraphFeaturizer

__all__ = [
    "LABELS", "DEFAULT_THRESHOLD", "MODEL_FORMAT", "ModelError", "ModelInfo",
    "NeighbourSmoothedClassifier", "build_pipeline", "save_model", "load_model", "shipped_model_path",
]

LABELS = ("body", "boilerplate", "promo")  # sorted, as scikit-learn orders classes_
DEFAULT_THRESHOLD = 0.5
MODEL_FORMAT = 2  # 2: first pass on paragraph-alone columns, binary second pass
SHIPPED_MODEL_NAME = "cleaner-model.joblib"


class ModelError(Exception):
    """A model file that is missing, corrupt, tampered with or incompatible with this installation."""


class NeighbourSmoothedClassifier(ClassifierMixin, BaseEstimator):
    """Two-pass paragraph classifier: score each paragraph alone, then again in its context.

    Pass one is a multinomial logistic regression over what a paragraph says and looks like on its own
    (words, lead n-grams, shape, HTML cues): it does not depend on the paragraphs around it, so the
    cleaner computes it once per paragraph however many rounds it takes. Pass two is a gradient-boosted
    tree model over the dense columns (shape, position, article context, the neighbours' shape) plus the
    first-pass probabilities of the paragraph and of the two paragraphs either side: trees learn the
    interactions a linear model cannot ("short, unterminated, Title Case and after a promo" vs "short,
    unterminated and between body paragraphs"). It answers the one question the threshold asks, remove
    or keep, and is calibrated (sigmoid), so one threshold on P(promo or boilerplate) trades precision
    for recall; the first pass says which of promo and boilerplate a removable paragraph is.

    Expects the featurizer's layout: the first ``dense_columns`` columns are dense, columns 0 and 1 flag
    whether a row has a previous / next paragraph in the same article (rows of an article are contiguous
    and in order), and the first pass reads ``first_pass_dense`` (column ranges) plus every sparse column.
    """

    def __init__(
        self, dense_columns: int, first_pass_dense: tuple[tuple[int, int], ...] = (), C: float = 4.0,
        window: int = 2, inner_folds: int = 5, calibration_folds: int = 3, boost_iterations: int = 200,
        learning_rate: float = 0.15, random_state: int = 0,
    ) -> None:
        self.dense_columns = dense_columns
        self.first_pass_dense = first_pass_dense
        self.C = C
        self.window = window
        self.inner_folds = inner_folds
        self.calibration_folds = calibration_folds
        self.boost_iterations = boost_iterations
        self.learning_rate = learning_rate
        self.random_state = random_state

    def _first(self) -> LogisticRegression:
        # Newton-CG: on this wide, sparse problem it converges in about ten iterations where L-BFGS
        # needed several seconds per fit.
        return LogisticRegression(C=self.C, solver="newton-cg", max_iter=1000, random_state=self.random_state)

    def first_pass_columns(self, n_columns: int) -> np.ndarray:
        """Indices of the columns the first pass reads, out of a feature matrix ``n_columns`` wide."""
        dense = [np.arange(start, stop) for start, stop in self.first_pass_dense]
        return np.concatenate(dense + [np.arange(self.dense_columns, n_columns)]).astype(np.int64)

    def fit(self, X: sp.spmatrix, y: Sequence[str]) -> "NeighbourSmoothedClassifier":
        X = sp.csr_matrix(X)
        y = np.asarray(y)
        columns = self.first_pass_columns(X.shape[1])
        own = X[:, columns]
        # Out-of-fold first-pass scores, so the second pass learns from scores like those it will see.
        # Contiguous folds keep most articles whole.
        first_scores = cross_val_predict(self._first(), own, y, cv=KFold(self.inner_folds), method="predict_proba")
        self.first_ = self._first().fit(own, y)
        self.classes_ = self.first_.classes_
        # Means of the dense first-pass columns, so explanations say how a paragraph differs from the
        # average one ("longer than usual") rather than crediting always-on features.
        self.dense_means_ = np.zeros(self.dense_columns)
        dense_own = columns[columns < self.dense_columns]
        self.dense_means_[dense_own] = np.asarray(X[:, dense_own].mean(axis=0)).ravel()
        boosting = HistGradientBoostingClassifier(
            max_iter=self.boost_iterations, learning_rate=self.learning_rate, l2_regularization=1.0,
            early_stopping=False, random_state=self.random_state,
        )
        removable = (y != "body").astype(np.int64)
        # One OpenMP thread here too: with two, the trees slow down many times over as soon as the
        # other core is busy (parallel folds, -j workers, any other process).
        with _openmp().limit(limits=1, user_api="openmp"):
            self.second_ = CalibratedClassifierCV(
                boosting, method="sigmoid", cv=self.calibration_folds, ensemble=False
            ).fit(self._second_inputs(X[:, : self.dense_columns].toarray(), first_scores), removable)
        return self

    def first_pass(self, own: sp.spmatrix) -> np.ndarray:
        """Class probabilities of each paragraph on its own (``own``: the first-pass columns)."""
        check_is_fitted(self, "first_")
        return self.first_.predict_proba(own)

    def second_pass(self, dense: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Class probabilities in context, from the dense columns and the first-pass probabilities."""
        check_is_fitted(self, "second_")
        inputs = self._second_inputs(dense, first)
        # One OpenMP thread: with two, scoring a batch ran about 10x slower on the 2-core machine
        # whenever the other core was busy, and -j N processes already use the cores.
        with _openmp().limit(limits=1, user_api="openmp"):
            removable = self.second_.predict_proba(inputs)[:, 1]
        # P(remove) is shared between promo and boilerplate as the first pass weighs them.
        body = list(self.classes_).index("body")
        others = first.copy()
        others[:, body] = 0.0
        total = others.sum(axis=1, keepdims=True)
        share = np.divide(others, total, out=np.full_like(others, 1.0 / (others.shape[1] - 1)), where=total > 0)
        proba = share * removable[:, None]
        proba[:, body] = 1.0 - removable
        return proba

    def _second_inputs(self, dense: np.ndarray, scores: np.ndarray) -> np.ndarray:
        has_prev = dense[:, 0] > 0
        has_next = dense[:, 1] > 0
        index = np.arange(dense.shape[0])
        removable = 1.0 - scores[:, list(self.classes_).index("body")]
        blocks = [dense, scores]
        prev = np.where(has_prev, index - 1, -1)
        nxt = np.where(has_next, index + 1, -1)
        back, fwd = prev, nxt
        for _ in range(self.window):
            blocks.append(np.where(back >= 0, removable[np.maximum(back, 0)], 0.0)[:, None])
            blocks.append(np.where(fwd >= 0, removable[np.maximum(fwd, 0)], 0.0)[:, None])
            back = np.where(back >= 0, prev[np.maximum(back, 0)], -1)
            fwd = np.where(fwd >= 0, nxt[np.maximum(fwd, 0)], -1)
        return np.hstack(blocks).astype(np.float32)

    def smoothing_feature_names(self) -> list[str]:
        """Names of the inputs the second pass adds to the dense columns."""
        names = [f"first_pass:p_{label}" for label in self.classes_]
        for k in range(1, self.window + 1):
            names += [f"first_pass:prev{k}_removable", f"first_pass:next{k}_removable"]
        return names

    def predict_proba(self, X: sp.spmatrix) -> np.ndarray:
        check_is_fitted(self, "second_")
        X = sp.csr_matrix(X)
        first = self.first_pass(X[:, self.first_pass_columns(X.shape[1])])
        return self.second_pass(X[:, : self.dense_columns].toarray(), first)

    def predict(self, X: sp.spmatrix) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def contributions(self, X: sp.spmatrix) -> sp.csr_matrix:
        """Per row and column, how much the first pass leaned towards "remove" because of that feature.

        (value - its training mean) * (mean promo/boilerplate coefficient - body coefficient) of the
        first-pass logistic regression for the dense columns, value * the same for the sparse ones (zero
        for the context columns it does not read): a readable account of which words and shapes drove a
        score (the second pass then weighs it together with the context).
        """
        X = sp.csr_matrix(X)
        coef = self.first_.coef_
        body = list(self.classes_).index("body")
        others = [i for i in range(len(self.classes_)) if i != body]
        direction = np.zeros(X.shape[1])
        direction[self.first_pass_columns(X.shape[1])] = coef[others].mean(axis=0) - coef[body]
        d = self.dense_columns
        dense = (X[:, :d].toarray() - self.dense_means_) * direction[:d]
        return sp.hstack([sp.csr_matrix(dense), X[:, d:].multiply(direction[None, d:])], format="csr")


@lru_cache(maxsize=1)
def _openmp() -> ThreadpoolController:
    """One controller per process: creating it scans the loaded libraries (about a millisecond)."""
    return ThreadpoolController()


def build_pipeline(random_state: int = 0) -> Pipeline:
    """The untrained model: featurizer, then the two-pass classifier."""
    featurizer = ParagraphFeaturizer()
    return Pipeline(
        [
            ("features", featurizer),
            (
                "classify",
                NeighbourSmoothedClassifier(
                    featurizer.dense_width(), featurizer.first_pass_dense_ranges(), random_state=random_state
                ),
            ),
        ]
    )


def feature_names(pipeline: Pipeline) -> list[str]:
    """Names of every featurizer column, then of the inputs the second pass adds."""
    featurizer: ParagraphFeaturizer = pipeline.named_steps["features"]
    classifier: NeighbourSmoothedClassifier = pipeline.named_steps["classify"]
    return list(featurizer.get_feature_names_out()) + classifier.smoothing_feature_names()


@dataclass(frozen=True)
class ModelInfo:
    """The sidecar of a model file."""

    threshold: float
    labels: tuple[str, ...]
    training: dict[str, Any] = field(default_factory=dict)
    heldout_metrics: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    html_threshold: float | None = None  # for web pages (cleaner.html); chosen on held-out HTML fixtures


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    return {
        "cleaner": __version__,
        "scikit-learn": sklearn.__version__,
        "joblib": joblib.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _atomic_write(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes files private; a model is meant to be read by others
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sidecar_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def save_model(
    pipeline: Pipeline, path: str | Path, *, threshold: float, training: dict[str, Any],
    heldout_metrics: dict[str, Any], html_threshold: float | None = None,
) -> Path:
    """Write ``path`` (joblib) and its JSON sidecar, each atomically; return the sidecar path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, lambda tmp: joblib.dump(pipeline, tmp, compress=3))
    names = feature_names(pipeline)
    sidecar = {
        "format": MODEL_FORMAT,
        "model_file": path.name,
        "model_sha256": _sha256(path),
        "versions": _versions(),
        "labels": list(pipeline.classes_),
        "threshold": threshold,
        "html_threshold": html_threshold,
        "n_features": len(names),
        "feature_names_sha256": hashlib.sha256("\n".join(names).encode()).hexdigest(),
        "feature_names": names,
        "training": training,
        "heldout_metrics": heldout_metrics,
    }
    meta = sidecar_path(path)
    _atomic_write(meta, lambda tmp: tmp.write_text(json.dumps(sidecar, indent=1) + "\n", "utf-8"))
    return meta


def shipped_model_path() -> Path:
    """Where the model that ships with the package lives.

    Installed, it is the ``cleaner.models`` package; run from a source checkout (``python -m pytest``
    puts the checkout's ``cleaner/`` first on the path), it is the top-level ``models/`` folder.
    """
    try:
        return Path(str(resources.files("cleaner.models").joinpath(SHIPPED_MODEL_NAME)))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "models" / SHIPPED_MODEL_NAME


def load_model(path: str | Path | None = None) -> tuple[Pipeline, ModelInfo]:
    """Load and verify a model; every failure is a :class:`ModelError` naming the file and the problem."""
    path = Path(path) if path is not None else shipped_model_path()
    meta_path = sidecar_path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} not found (train one with `cleaner train FIXTURES --out {path}`)")
    if not meta_path.is_file():
        raise ModelError(f"model sidecar {meta_path} not found: a model is only loaded with its metadata")
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"model sidecar {meta_path} is not valid JSON ({exc})") from None
    if meta.get("format") != MODEL_FORMAT:
        raise ModelError(
            f"model {path} has format {meta.get('format')!r}; this cleaner {__version__} reads format {MODEL_FORMAT}"
        )
    trained_with = str(meta.get("versions", {}).get("scikit-learn", "?"))
    if trained_with.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        raise ModelError(
            f"model {path} was trained with scikit-learn {trained_with}, but {sklearn.__version__} is installed: "
            "retrain it with `cleaner train` or install the matching scikit-learn"
        )
    if _sha256(path) != meta.get("model_sha256"):
        raise ModelError(f"model file {path} does not match the checksum in {meta_path}: corrupt or tampered with")
    try:
        pipeline = joblib.load(path)
    except Exception as exc:  # unpickling can fail in many ways; all mean the same to a user
        raise ModelError(f"model file {path} could not be loaded ({type(exc).__name__}: {exc})") from None
    if not isinstance(pipeline, Pipeline) or "classify" not in pipeline.named_steps:
        raise ModelError(f"model file {path} does not hold a cleaner pipeline")
    if list(pipeline.classes_) != list(meta.get("labels", [])) or set(pipeline.classes_) != set(LABELS):
        raise ModelError(f"model {path}: labels {list(pipeline.classes_)} do not match its sidecar {meta.get('labels')}")
    names = feature_names(pipeline)
    if hashlib.sha256("\n".join(names).encode()).hexdigest() != meta.get("feature_names_sha256"):
        raise ModelError(f"model {path}: its feature names do not match those recorded in {meta_path}")
    threshold = _sidecar_threshold(meta, "threshold", meta_path)
    info = ModelInfo(
        threshold=threshold, labels=tuple(meta["labels"]), training=meta.get("training", {}),
        heldout_metrics=meta.get("heldout_metrics", {}), versions=meta.get("versions", {}),
        html_threshold=_sidecar_threshold(meta, "html_threshold", meta_path, optional=True),
    )
    return pipeline, info


def _sidecar_threshold(meta: dict[str, Any], key: str, meta_path: Path, optional: bool = False) -> float | None:
    """``meta[key]`` as a threshold in (0, 1); ``None`` when ``optional`` and absent (older sidecars)."""
    value = meta.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise ModelError(f"model sidecar {meta_path}: {key} {value!r} is not a number in (0, 1)")
    return float(value)
