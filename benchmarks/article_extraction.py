"""Article-extraction benchmark: this cleaner's HTML path against trafilatura and jusText, in one run.

Runs on the 181 real pages of scrapinghub/article-extraction-benchmark (not part of this project; by
default looked up at ``../shared/data/article-extraction-benchmark`` from the repository root, or
wherever ``--data`` / ``$CLEANER_BENCHMARK_DATA`` points). Systems: this cleaner's HTML path, the same
path with nothing removed (``cleaner-segmentation``: what the classifier adds is the difference),
trafilatura with default settings and with ``favor_precision``, and jusText, the latter three called
as the benchmark's own runners call them. Prints, per system, the benchmark's own metric (token
4-gram shingles of the extracted text against the hand-made article body; precision and recall
averaged over documents; F1 the harmonic mean of the two averages) and pages per second.

    python benchmarks/article_extraction.py                  # the full table
    python benchmarks/article_extraction.py --limit 20       # a quick look
    python benchmarks/article_extraction.py --model /tmp/html-model.joblib --threshold 0.9

When the data is not there, it says so and exits 0 without measuring anything. The pages are for
measuring only: nothing here trains on them.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ENV = "CLEANER_BENCHMARK_DATA"
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "article-extraction-benchmark"
NGRAM = 4
_TOKEN = re.compile(r"\w+", re.UNICODE)

# The benchmark's own jusText call (extractors/run_justext.py upstream): English stoplist, then
# length_low=50, length_high=200, stopwords_low=0.1, stopwords_high=0.2, max_link_density=0.2,
# max_heading_distance=200, no_headings=True.
JUSTEXT_ARGS = (50, 200, 0.1, 0.2, 0.2, 200, True)


# --------------------------------------------------------------------------------------------------
# The metric, as the benchmark's evaluate.py defines it


def shingles(text: str | None, n: int = NGRAM) -> Counter:
    """Token n-gram counts; a text shorter than ``n`` tokens is one shorter shingle, an empty one none."""
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i:i + n])


def score_document(truth: str, predicted: str | None) -> tuple[float, float, float]:
    """(tp, fp, fn) over shingles, normalised to sum to 1 so that long articles weigh no more."""
    true, pred = shingles(truth), shingles(predicted)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def aggregate(scores: Sequence[tuple[float, float, float]]) -> dict[str, float]:
    """Mean precision over documents with a prediction, mean recall over documents with a truth, F1."""
    precisions = [_precision(*s) for s in scores if s[0] + s[1] > 0]
    recalls = [_recall(*s) for s in scores if s[0] + s[2] > 0]
    precision = statistics.mean(precisions) if precisions else 0.0
    recall = statistics.mean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


# --------------------------------------------------------------------------------------------------
# Data


class DataMissing(Exception):
    """The benchmark pages are not on this machine."""


@dataclass(frozen=True)
class Page:
    id: str
    html: str
    truth: str


def resolve_data(data: str | os.PathLike | None = None) -> Path:
    """``--data``, else ``$CLEANER_BENCHMARK_DATA``, else ``../shared/data/...`` from the repository root."""
    path = Path(data or os.environ.get(DATA_ENV) or DEFAULT_DATA)
    if not (path / "ground-truth.json").is_file() or not (path / "html").is_dir():
        raise DataMissing(
            f"article-extraction-benchmark data not found at {path} (expected ground-truth.json and html/); "
            f"pass --data DIR or set ${DATA_ENV}"
        )
    return path


def load_pages(data: Path, limit: int | None = None) -> list[Page]:
    """The pages in id order, decoded as UTF-8 as the benchmark's own runners read them."""
    truth = json.loads((data / "ground-truth.json").read_text("utf-8"))
    pages = []
    for page_id in sorted(truth)[:limit]:
        with gzip.open(data / "html" / f"{page_id}.html.gz", "rt", encoding="utf-8") as handle:
            pages.append(Page(page_id, handle.read(), truth[page_id].get("articleBody", "")))
    return pages


# --------------------------------------------------------------------------------------------------
# Systems

Extractor = Callable[[str], str]


def trafilatura_extractor(**options: object) -> Extractor:
    import trafilatura

    def extract(html: str) -> str:
        # include_comments=False as in the benchmark's own trafilatura runner
        return trafilatura.extract(html, include_comments=False, **options) or ""

    return extract


def justext_extractor() -> Extractor:
    import justext

    stoplist = justext.get_stoplist("English")

    def extract(html: str) -> str:
        paragraphs = justext.justext(html, stoplist, *JUSTEXT_ARGS)
        return " ".join(p.text for p in paragraphs if not p.is_boilerplate)

    return extract


class CleanerExtractor:
    """This cleaner's HTML path, page by page; keeps each page's decisions for :func:`removal_report`."""

    def __init__(self, model: str | None = None, threshold: float | None = None) -> None:
        from cleaner import Cleaner, CleanerConfig

        self.cleaner = Cleaner.load(model, CleanerConfig(threshold=threshold))
        self.results: list = []

    def __call__(self, html: str) -> str:
        from cleaner.html import analyze_html

        result = analyze_html(self.cleaner, html)
        self.results.append(result)
        return result.text


def segmentation_extractor() -> Extractor:
    """The HTML path with nothing removed: trafilatura's blocks as this cleaner segments them (the
    headline moved to metadata). Shows what the classifier itself adds."""
    from cleaner.html import html_to_paragraphs

    def extract(html: str) -> str:
        return "\n\n".join(p.text for p in html_to_paragraphs(html)[0])

    return extract


@dataclass(frozen=True)
class Result:
    name: str
    precision: float
    recall: float
    f1: float
    pages_per_second: float
    outputs: tuple[str, ...]


def run(name: str, extract: Extractor, pages: Sequence[Page]) -> Result:
    """Extract every page (timed; reading the data is not), then score."""
    outputs = []
    started = time.perf_counter()
    for page in pages:
        outputs.append(extract(page.html))
    elapsed = time.perf_counter() - started
    metrics = aggregate([score_document(p.truth, out) for p, out in zip(pages, outputs)])
    return Result(name, metrics["precision"], metrics["recall"], metrics["f1"], len(pages) / elapsed,
                  tuple(outputs))


def _dropped(pages: Sequence[Page], results: Sequence) -> Iterator[tuple[int, Page, Any, bool]]:
    """Every paragraph the cleaner dropped: its page's number, the page, the paragraph, and whether most
    of its shingles are in the article body (a *body lost*; otherwise *junk caught*)."""
    for number, (page, result) in enumerate(zip(pages, results)):
        truth = shingles(page.truth)
        for paragraph in result.removed:
            own = shingles(paragraph.text)
            yield number, page, paragraph, sum((own & truth).values()) > 0.5 * max(sum(own.values()), 1)


def removal_report(pages: Sequence[Page], results: Sequence) -> dict[str, int]:
    """What the classifier dropped from trafilatura's output, judged against the ground truth.

    A dropped paragraph counts as *body lost* when most of its shingles are in the article body,
    else as *junk caught*: the two numbers to watch, body lost first.
    """
    counts = Counter(paragraphs=sum(len(result.paragraphs) for result in results), dropped=0, body_lost=0,
                     junk_caught=0)
    for _, _, _, mostly_body in _dropped(pages, results):
        counts["dropped"] += 1
        counts["body_lost" if mostly_body else "junk_caught"] += 1
    return dict(counts)


# --------------------------------------------------------------------------------------------------
# The audit: the body the cleaner lost, judged by hand under the fixtures' labelling guide

AUDIT = Path(__file__).with_name("benchmark_audit.json")
JUDGEMENTS = ("removable", "body", "unsure")
_JUDGEMENT_TITLES = {
    "removable": "promo or boilerplate under our labelling guide (the benchmark's truth keeps it)",
    "body": "article body (a real loss)",
    "unsure": "unsure",
    "not judged": "not judged yet (new since the audit file was written)",
    "all but removable": "all of them but the removable (the most the guide lets a cleaner keep)",
}


def paragraph_key(text: str) -> str:
    """How the audit file names a paragraph without storing its text: a short SHA-1 of it."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def load_audit(path: Path = AUDIT) -> dict[tuple[str, str], str]:
    """(page id, paragraph key) -> judgement, from the audit file; names the file and entry on error."""
    try:
        entries = json.loads(path.read_text("utf-8"))["judgements"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"audit file {path}: cannot read its judgements ({exc})") from None
    judgements: dict[tuple[str, str], str] = {}
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or entry.get("judgement") not in JUDGEMENTS:
            raise SystemExit(f"audit file {path}, entry {number}: judgement must be one of {', '.join(JUDGEMENTS)}")
        judgements[(str(entry.get("page")), str(entry.get("paragraph_sha1")))] = entry["judgement"]
    return judgements


def audit_losses(
    pages: Sequence[Page], results: Sequence, judgements: dict[tuple[str, str], str]
) -> list[dict[str, object]]:
    """Per judgement, the body-lost paragraphs so judged and the cleaner's recall had it kept them.

    Splits the recall the classifier costs into what the labelling guide asks it to remove (lines the
    benchmark's annotators kept as article text) and what is a real loss. Paragraphs the file does not
    judge (the model changed since) are counted as such, never guessed.
    """
    lost: dict[str, set[tuple[int, int]]] = {name: set() for name in _JUDGEMENT_TITLES}
    for number, page, paragraph, mostly_body in _dropped(pages, results):
        if mostly_body:
            judgement = judgements.get((page.id, paragraph_key(paragraph.text)), "not judged")
            lost[judgement].add((number, paragraph.index))
            if judgement != "removable":
                lost["all but removable"].add((number, paragraph.index))
    rows = []
    for name, restored in lost.items():
        texts = [
            "\n\n".join(p.text for p in result.paragraphs if p.kept or (number, p.index) in restored)
            for number, result in enumerate(results)
        ]
        recall = aggregate([score_document(page.truth, text) for page, text in zip(pages, texts)])["recall"]
        rows.append({"judgement": name, "paragraphs": len(restored), "recall_if_kept": recall})
    return rows


def threshold_sweep(pages: Sequence[Page], model: str | None, thresholds: Sequence[float]) -> list[dict[str, float]]:
    """The cleaner's metric at several thresholds; pages are segmented once (not timed)."""
    from cleaner import Cleaner, CleanerConfig
    from cleaner.html import analyze_segmentations, segment_html

    segmentations = [segment_html(page.html) for page in pages]
    rows = []
    for threshold in thresholds:
        cleaner = Cleaner.load(model, CleanerConfig(threshold=threshold))
        results = analyze_segmentations(cleaner, segmentations)
        metrics = aggregate([score_document(p.truth, r.text) for p, r in zip(pages, results)])
        rows.append({"threshold": threshold, **metrics})
    return rows


SYSTEMS = ("cleaner", "cleaner-segmentation", "trafilatura", "trafilatura-precision", "justext")


def build(name: str, model: str | None, threshold: float | None) -> Extractor:
    if name == "cleaner":
        return CleanerExtractor(model, threshold)
    if name == "cleaner-segmentation":
        return segmentation_extractor()
    if name == "trafilatura":
        return trafilatura_extractor()
    if name == "trafilatura-precision":
        return trafilatura_extractor(favor_precision=True)
    if name == "justext":
        return justext_extractor()
    raise ValueError(f"unknown system {name!r}; known: {', '.join(SYSTEMS)}")


def format_table(results: Iterable[Result]) -> str:
    lines = ["| system | precision | recall | F1 | pages/s |", "|---|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r.name} | {r.precision:.4f} | {r.recall:.4f} | {r.f1:.4f} | {r.pages_per_second:.1f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help=f"benchmark folder (default: ${DATA_ENV} or {DEFAULT_DATA})")
    parser.add_argument("--model", help="cleaner model file (default: the shipped model)")
    parser.add_argument("--threshold", type=float, help="cleaner threshold (default: the model's)")
    parser.add_argument("--limit", type=int, help="only the first N pages (by id)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {','.join(SYSTEMS)}")
    parser.add_argument("--sweep", help="also print the cleaner's metric at these comma-separated thresholds")
    parser.add_argument("--audit", action="store_true",
                        help=f"split the body the cleaner lost by the hand judgements in {AUDIT.name}")
    parser.add_argument("--json", dest="as_json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    try:
        data = resolve_data(args.data)
    except DataMissing as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 0
    pages = load_pages(data, args.limit)
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    extractors = {name: build(name, args.model, args.threshold) for name in names}
    results = [run(name, extract, pages) for name, extract in extractors.items()]
    cleaner = extractors.get("cleaner")
    report = removal_report(pages, cleaner.results) if isinstance(cleaner, CleanerExtractor) else {}
    audit = audit_losses(pages, cleaner.results, load_audit()) if args.audit and report else []
    sweep = threshold_sweep(pages, args.model, [float(t) for t in args.sweep.split(",")]) if args.sweep else []
    if args.as_json:
        payload = {
            "pages": len(pages),
            "results": [{k: v for k, v in vars(r).items() if k != "outputs"} for r in results],
            "cleaner_removals": report,
            "cleaner_sweep": sweep,
            "cleaner_audit": audit,
        }
        print(json.dumps(payload, indent=1))
        return 0
    print(f"{len(pages)} pages from {data}\n")
    print(format_table(results))
    if report:
        print(
            f"\ncleaner: dropped {report['dropped']} of {report['paragraphs']} paragraphs that trafilatura kept: "
            f"{report['junk_caught']} not in the article body (junk caught), "
            f"{report['body_lost']} mostly article body (body lost)"
        )
    if audit:
        recall = next(r.recall for r in results if r.name == "cleaner")
        print(f"\nthe body lost, judged by hand ({AUDIT.name}); cleaner recall {recall:.4f}:\n")
        print("| judgement | paragraphs | recall had the cleaner kept them |\n|---|---:|---:|")
        for row in audit:
            print(f"| {_JUDGEMENT_TITLES[row['judgement']]} | {row['paragraphs']} | {row['recall_if_kept']:.4f} |")
    if sweep:
        print("\n| cleaner threshold | precision | recall | F1 |\n|---:|---:|---:|---:|")
        for row in sweep:
            print(f"| {row['threshold']:g} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))  # run from a checkout without installing
    raise SystemExit(main())
