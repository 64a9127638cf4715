"""Batch: clean many inputs on all cores, write every output in input order, lose nothing.

The inputs are read as one stream of records (``cleaner.io``), cut into chunks; each chunk is cleaned by
one ``Cleaner.analyze_batch`` call (web pages: one ``cleaner.html.analyze_html_batch`` call, which applies
the HTML path's own rules) in a worker process that starts with the model loaded, while the main process
writes the results back in input order and keeps the counts. Memory is bounded by the chunks in flight,
not by the size of the input. Every record ends up in an output or among the rejects, so the counts add
up. Outputs appear only complete (atomic rename), which is what lets ``resume`` skip an input whose
output exists. Hands on a :class:`Summary`.
"""

from __future__ import annotations

import ctypes
import gc
import json
import multiprocessing
import os
import signal
import sys
import time
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from joblib import effective_n_jobs
from tqdm import tqdm

from cleaner.clean import Cleaner, CleanerConfig, ParagraphResult
from cleaner.html import analyze_html_batch
from cleaner.io import (
    Header, Output, ReadOptions, Record, Reject, Source, atomic_path, find_sources, open_output, output_relative,
    read_source,
)

__all__ = ["BatchConfig", "BatchUsageError", "BatchError", "Outcome", "Failure", "Summary", "run_batch", "clean_chunk"]


class BatchUsageError(ValueError):
    """A batch that cannot be run as configured (e.g. several inputs but no output folder)."""


class BatchError(Exception):
    """A fault that stops the batch: an output that cannot be written. The message names the file."""


@dataclass(frozen=True)
class BatchConfig:
    """Everything a batch run needs; the CLI maps its options onto this in one place.

    ``output_dir=None`` writes the single input's output to standard output. ``jobs`` follows joblib
    (-1: all cores). ``rejects`` is a JSON-lines file; without it rejects go to ``on_reject``.
    """

    inputs: tuple[str, ...] = ("-",)
    output_dir: Path | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    cleaner: CleanerConfig = field(default_factory=CleanerConfig)
    model: str | None = None  # None: the shipped model
    annotate: bool = False
    jobs: int = -1
    rejects: Path | None = None
    resume: bool = False
    progress: bool = True  # a progress bar, when stderr is a terminal

    def __post_init__(self) -> None:
        if not self.inputs:
            raise BatchUsageError("no input given")
        if self.jobs == 0:
            raise BatchUsageError("jobs must be a number of processes, or -1 for all cores")
        if self.resume and self.output_dir is None:
            raise BatchUsageError("--resume needs an output folder (-o DIR)")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a worker hands back for one article: what the writer and the counts need, nothing more."""

    text: str
    metadata: Mapping[str, str]
    removed: tuple[ParagraphResult, ...]
    paragraphs: int

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return Outcome, (self.text, self.metadata, self.removed, self.paragraphs)  # see ParagraphResult


@dataclass(frozen=True, slots=True)
class Failure:
    """An article the cleaner raised on; it becomes a reject and the batch goes on."""

    reason: str


@dataclass(frozen=True)
class Summary:
    """The counts of a run. ``articles + rejected`` is every record of the inputs completed in this run.

    After an interrupt, the input that was being written is not counted: its output was discarded.
    """

    files: int
    files_skipped: int
    articles: int
    paragraphs: int
    removed: Mapping[str, int]
    rejected: int
    rejected_by_kind: Mapping[str, int]
    rejects_carried_over: int  # from inputs skipped by resume, kept in the rejects file
    seconds: float
    jobs: int
    interrupted: bool = False

    @property
    def articles_per_second(self) -> float:
        return self.articles / self.seconds if self.seconds > 0 else 0.0

    @property
    def clean(self) -> bool:
        """Nothing rejected (now or in the resumed part) and not interrupted."""
        return not (self.rejected or self.rejects_carried_over or self.interrupted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files, "files_skipped": self.files_skipped, "articles": self.articles,
            "paragraphs": self.paragraphs, "paragraphs_removed": dict(self.removed),
            "rejected": self.rejected, "rejected_by_kind": dict(self.rejected_by_kind),
            "rejects_carried_over": self.rejects_carried_over, "seconds": round(self.seconds, 3),
            "articles_per_second": round(self.articles_per_second, 1), "jobs": self.jobs,
            "interrupted": self.interrupted,
        }


# ---------------------------------------------------------------------------------------------- workers

_CLEANERS: dict[tuple[str | None, CleanerConfig], Cleaner] = {}


def cleaner_for(model: str | None, config: CleanerConfig) -> Cleaner:
    """The cleaner for a model and config, loaded once per process (workers are reused across chunks)."""
    key = (model, config)
    if key not in _CLEANERS:
        _CLEANERS[key] = Cleaner.load(model, config)
        # The model is hundreds of thousands of long-lived objects (vocabularies, trees): moving them out
        # of the garbage collector's sight stops every full collection from walking them again (about
        # 8% of a batch's time). Only the batch process does this; library callers keep their GC as is.
        gc.freeze()
    return _CLEANERS[key]


def _analyze(cleaner: Cleaner, payload: Sequence[tuple[str, str]]) -> list[Outcome]:
    """Decide on a chunk: plain text as ``Cleaner.analyze`` does, pages as ``Cleaner.analyze_html`` does."""
    results: list[Any] = [None] * len(payload)
    plain = [i for i, (markup, _) in enumerate(payload) if markup == "text"]
    html = [i for i, (markup, _) in enumerate(payload) if markup == "html"]
    if plain:
        for i, result in zip(plain, cleaner.analyze_batch([payload[i][1] for i in plain])):
            results[i] = result
    if html:  # the HTML path's own rules (threshold, extractor wins) apply, as in Cleaner.analyze_html
        for i, result in zip(html, analyze_html_batch(cleaner, [payload[i][1] for i in html])):
            results[i] = result
    return [Outcome(r.text, dict(r.metadata), r.removed, len(r.paragraphs)) for r in results]


def clean_chunk(
    model: str | None, config: CleanerConfig, payload: Sequence[tuple[str, str]]
) -> list[Outcome | Failure]:
    """Clean one chunk of ``(markup, text)`` articles; runs in a worker.

    The chunk is one classifier call; if it raises, its articles are retried one by one so that a
    single bad article is rejected instead of its chunk. A model that fails to load still stops the run.
    """
    cleaner = cleaner_for(model, config)
    try:
        return list(_analyze(cleaner, payload))
    except Exception:  # noqa: BLE001 - narrowed below, article by article
        outcomes: list[Outcome | Failure] = []
        for item in payload:
            try:
                outcomes.extend(_analyze(cleaner, [item]))
            except Exception as exc:  # noqa: BLE001 - any failure on one article rejects that article
                outcomes.append(Failure(f"the cleaner failed on it ({type(exc).__name__}: {exc})"))
        return outcomes


# ---------------------------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class _Begin:
    source: Source
    target: Path | None


@dataclass(frozen=True)
class _End:
    source: Source


@dataclass(frozen=True)
class _Skipped:
    source: Source


def _check(config: BatchConfig) -> None:
    if config.output_dir is None:
        if len(config.inputs) != 1 or (config.inputs[0] != "-" and Path(config.inputs[0]).is_dir()):
            raise BatchUsageError("several inputs or a folder need an output folder (-o DIR)")
        return
    if config.output_dir.exists() and not config.output_dir.is_dir():
        raise BatchUsageError(f"output {config.output_dir} is a file, not a folder")
    out = config.output_dir.resolve()
    for given in config.inputs:
        if given != "-" and Path(given).is_dir() and Path(given).resolve() == out:
            raise BatchUsageError(
                f"output folder {config.output_dir} is the input folder: outputs would overwrite inputs"
            )


def _units(config: BatchConfig, pending: deque, chunk_size: int) -> Iterator[list[tuple[str, str]]]:
    """The articles to clean, chunk by chunk; each chunk's events (in input order) go to ``pending`` first.

    Runs in joblib's dispatch thread when parallel: it only reads inputs and appends to ``pending``;
    everything that writes happens in the main thread, in order.
    """
    events: list[Any] = []
    payload: list[tuple[str, str]] = []
    planned: dict[Path, str] = {}
    for source in find_sources(config.inputs, config.read, exclude=config.output_dir):
        target = None
        if config.output_dir is not None:
            target = config.output_dir / output_relative(source, config.annotate)
            problem = _target_problem(source, target, planned)
            if problem:
                events.append(Reject(source.name, source.name, problem, "conflict"))
                continue
            planned[target] = source.name
            if config.resume and target.exists():
                events.append(_Skipped(source))
                continue
        events.append(_Begin(source, target))
        for item in read_source(source, config.read):
            events.append(item)
            if isinstance(item, Record):
                payload.append((item.markup, item.text))
            # Flushing on events too keeps memory bounded when a long run of lines is all rejects.
            if len(payload) >= chunk_size or len(events) >= 4 * chunk_size:
                pending.append(events)
                yield payload
                events, payload = [], []
        events.append(_End(source))
    if events:
        pending.append(events)
        yield payload


def _target_problem(source: Source, target: Path, planned: Mapping[Path, str]) -> str | None:
    if target in planned:
        return f"its output {target} is also the output of {planned[target]}"
    if source.path is not None and target.exists() and os.path.samefile(target, source.path):
        return f"its output {target} would overwrite the input"
    return None


def _results(
    units: Iterator[list[tuple[str, str]]], model: str | None, config: BatchConfig, jobs: list[int]
) -> Iterator[list]:
    """Cleaned chunks in input order: in this process for one job or one chunk, else in worker processes.

    ``jobs`` holds the number of processes asked for; it is set to 1 when the work runs in this process.
    At most two chunks per worker are in flight, so memory stays bounded however long the input.
    """
    first = list(islice(units, 2))
    if jobs[0] == 1 or len(first) < 2:  # a single article should not pay for starting workers
        jobs[0] = 1
        for payload in chain(first, units):
            yield clean_chunk(model, config.cleaner, payload)
        return
    in_flight: deque[Future] = deque()
    with _worker_pool(jobs[0]) as pool:
        try:
            for payload in chain(first, units):
                in_flight.append(pool.submit(clean_chunk, model, config.cleaner, payload))
                if len(in_flight) >= 2 * jobs[0]:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()
        except BrokenProcessPool:
            raise BatchError(
                "a worker process died (killed, or out of memory?); the outputs completed so far are kept: "
                "run again with --resume to finish, with fewer --jobs or a smaller --batch-size if memory is short"
            ) from None
        finally:
            for future in in_flight:  # on an interrupt: queued chunks are dropped, running ones end
                future.cancel()


def _worker_pool(jobs: int) -> ProcessPoolExecutor:
    """The worker processes of a parallel run.

    On Linux they are forked from this process, so each starts with the modules imported and the model
    loaded (``run_batch`` loads it first); a fresh interpreter would spend about a second importing
    scikit-learn and loading the model, per worker, before its first article. joblib's process
    backends either start fresh interpreters (loky) or cannot hand results back as a stream
    (multiprocessing), so the standard library's pool is used. Where fork is unsafe (macOS) or
    missing (Windows), workers are spawned and load the model themselves.
    """
    if not sys.platform.startswith("linux"):
        return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
    return ProcessPoolExecutor(
        jobs, mp_context=multiprocessing.get_context("fork"), initializer=_end_with_parent, initargs=(os.getpid(),)
    )


def _end_with_parent(parent: int) -> None:
    """Make a forked worker end when the batch process does, even if that one is killed outright.

    A forked worker would otherwise wait forever for its next chunk: it holds a copy of the queue's
    write end, so the queue never closes. Linux sends it SIGTERM when its parent dies (prctl
    PR_SET_PDEATHSIG), and SIGTERM gets its default action back (the parent's handler turns it into an
    interrupt, meant for the parent alone).
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # no prctl to call: the worker then ends with the queue as usual
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


# ---------------------------------------------------------------------------------------------- writing


class _RejectLog:
    """Rejects to a JSON-lines file (written atomically, kept on interrupt) or to a callback.

    The file always matches the outputs: the rejects of an input whose output is discarded (interrupted)
    are rolled back, and on resume the previous file's entries for inputs that are skipped are carried
    over while those for inputs done again are dropped (they will be found again).
    """

    def __init__(self, path: Path | None, resume: bool, echo: Callable[[Reject], None] | None) -> None:
        self.path = path
        self.resume = resume
        self.echo = echo
        self.previous: dict[str, list[str]] = {}
        self._mark = 0

    def __enter__(self) -> "_RejectLog":
        if self.path is None:
            return self
        if self.resume and self.path.exists():
            for line in self.path.read_text("utf-8").splitlines():
                try:
                    self.previous.setdefault(json.loads(line)["source"], []).append(line)
                except (ValueError, KeyError, TypeError):
                    continue  # not one of ours: not carried over
        try:
            self._atomic = atomic_path(self.path)
            self.file = open(self._atomic.__enter__(), "w", encoding="utf-8")
        except OSError as exc:
            raise BatchError(f"cannot write rejects file {self.path}: {exc.strerror or exc}") from None
        return self

    def add(self, reject: Reject) -> None:
        if self.path is None:
            if self.echo:
                self.echo(reject)
        else:
            self.file.write(json.dumps(reject.to_dict(), ensure_ascii=False) + "\n")

    def carry(self, source: str) -> int:
        lines = self.previous.get(source, [])
        if self.path is not None:
            for line in lines:
                self.file.write(line + "\n")
        return len(lines)

    def mark(self) -> None:
        """Remember where the current input's rejects start."""
        if self.path is not None:
            self._mark = self.file.tell()

    def roll_back(self) -> None:
        """Forget the current input's rejects: its output was discarded."""
        if self.path is not None:
            self.file.seek(self._mark)
            self.file.truncate()

    def __exit__(self, *exc: Any) -> None:
        if self.path is not None:
            self.file.close()
            self._atomic.__exit__(None, None, None)  # committed even on interrupt: it matches the outputs


@dataclass
class _Counts:
    articles: int = 0
    paragraphs: int = 0
    removed: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)

    def add(self, other: "_Counts") -> None:
        self.articles += other.articles
        self.paragraphs += other.paragraphs
        self.removed.update(other.removed)
        self.rejected.update(other.rejected)


class _Writer:
    """Applies events in input order: opens, fills and commits outputs; counts; logs rejects.

    An input's counts join the totals when its output is committed, so that after an interrupt the
    summary, the rejects file and the outputs all describe the same complete inputs.
    """

    def __init__(self, config: BatchConfig, rejects: _RejectLog, bar: tqdm) -> None:
        self.config = config
        self.rejects = rejects
        self.bar = bar
        self.output: Output | None = None
        self.source: Source | None = None
        self.target: Path | None = None  # of the current source, for messages
        self.files = self.skipped = self.carried = 0
        self.totals = _Counts()
        self.current = self.totals  # where counts go: the open input's own counts while it is written

    def reject(self, reject: Reject) -> None:
        self.current.rejected[reject.kind] += 1
        self.rejects.add(reject)

    def apply(self, events: list[Any], results: Sequence[Outcome | Failure]) -> None:
        outcomes = iter(results)
        seen = 0
        for event in events:
            if isinstance(event, Record):
                seen += 1
                self._record(event, next(outcomes))
            elif isinstance(event, Reject):
                seen += 1
                self.reject(event)
            elif isinstance(event, Header):
                self._guard(lambda: self.output.header(event.value))
            elif isinstance(event, _Begin):
                self.source, self.target = event.source, event.target
                self.current = _Counts()
                self.rejects.mark()
                self.output = open_output(event.source, event.target, self.config.read, self.config.annotate)
                self._guard(self.output.__enter__)
            elif isinstance(event, _End):
                output, self.output = self.output, None
                self._guard(lambda: output.__exit__(None, None, None))
                self.totals.add(self.current)
                self.current = self.totals
                self.files += 1
            elif isinstance(event, _Skipped):
                self.skipped += 1
                self.carried += self.rejects.carry(event.source.name)
        self.bar.update(seen)

    def _record(self, record: Record, outcome: Outcome | Failure) -> None:
        if isinstance(outcome, Failure):
            self.reject(Reject(record.source, record.location, outcome.reason, "failed"))
            return
        self._guard(lambda: self.output.write(record, outcome))
        self.current.articles += 1
        self.current.paragraphs += outcome.paragraphs
        self.current.removed.update(p.label for p in outcome.removed)

    def _guard(self, action: Callable[[], Any]) -> None:
        try:
            action()
        except OSError as exc:
            if self.output is None:  # the commit failed: the output has removed its temporary file itself
                self.rejects.roll_back()
            self.abort()
            target = self.target or "standard output"
            source = self.source.name if self.source else "?"
            raise BatchError(f"cannot write {target} (for {source}): {exc.strerror or exc}") from None

    def abort(self) -> None:
        """Discard the output being written, if any: an interrupted file must not look complete."""
        if self.output is not None:
            output, self.output = self.output, None
            self.rejects.roll_back()
            try:
                output.__exit__(KeyboardInterrupt, KeyboardInterrupt(), None)
            except BaseException:  # noqa: BLE001 - already failing; the temporary file is gone either way
                pass


class _ProgressBar(tqdm):
    """tqdm without its monitor thread: workers are forked from this process, and a fork should not
    copy a thread that may hold a lock."""

    monitor_interval = 0


def run_batch(config: BatchConfig, on_reject: Callable[[Reject], None] | None = None) -> Summary:
    """Clean every input of ``config``; return the counts. Ctrl-C ends it cleanly (``interrupted``).

    Raises :class:`BatchUsageError` for an impossible configuration, ``ModelError`` for a bad model and
    :class:`BatchError` when an output cannot be written; everything about the inputs is a reject.
    """
    _check(config)
    model = str(Path(config.model).resolve()) if config.model else None
    cleaner_for(model, config.cleaner)  # a bad model stops the run before any input is touched
    jobs = [effective_n_jobs(config.jobs)]
    start = time.perf_counter()
    pending: deque = deque()
    interrupted = False
    show = config.progress and sys.stderr.isatty()
    with _RejectLog(config.rejects, config.resume, on_reject) as rejects, _ProgressBar(
        disable=not show, unit=" articles", file=sys.stderr, mininterval=0.5, leave=False,
    ) as bar:
        writer = _Writer(config, rejects, bar)
        results = _results(_units(config, pending, config.cleaner.batch_size), model, config, jobs)
        try:
            for outcomes in results:
                writer.apply(pending.popleft(), outcomes)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            writer.abort()
            results.close()
    totals = writer.totals
    return Summary(
        files=writer.files, files_skipped=writer.skipped, articles=totals.articles, paragraphs=totals.paragraphs,
        removed=dict(sorted(totals.removed.items())), rejected=sum(totals.rejected.values()),
        rejected_by_kind=dict(sorted(totals.rejected.items())), rejects_carried_over=writer.carried,
        seconds=time.perf_counter() - start, jobs=jobs[0], interrupted=interrupted,
    )
