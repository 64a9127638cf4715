"""Throughput and peak memory of `cleaner clean`, against trafilatura and jusText on the same articles.

Builds N copies of a realistic article (the user's example when it is beside the repo, else the fixtures),
as a folder of .txt files and as one JSONL file, and runs the real CLI on them in a subprocess, with
-j 1 and -j 2. The same articles, wrapped as minimal HTML (<html><body><p>...</p>...</body></html>), go
through trafilatura.extract and jusText in the same run, so every ratio is taken on one machine.

    python benchmarks/bench_throughput.py                 # 2,000 articles, one run each
    python benchmarks/bench_throughput.py -n 5000 --repeat 3 --memory-check

"articles/s" is measured inside the run (from `cleaner clean --report`: model already loaded, worker
start-up included), "wall" is the whole command including Python start-up and imports. "CPU s" is the
CPU time of all the run's processes (start-up included), so "articles/CPU-s" is a per-core rate that
holds even when other work shares the machine. Peak RSS is the largest single process of a run (workers
included). Both come from getrusage(RUSAGE_CHILDREN) in a fresh wrapper process per run. jusText needs
the 'bench' extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT.parent / "shared" / "examples" / "000_db6be9cb37a869b3.txt"

# Runs one command; prints the peak RSS (kB) of its largest process and the CPU seconds of all its
# processes (workers included), then its exit status.
_WRAPPER = (
    "import resource, subprocess, sys;"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode;"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
    "print(u.ru_maxrss, u.ru_utime + u.ru_stime, code)"
)


def base_articles() -> tuple[list[str], str]:
    if EXAMPLE.exists():
        return [EXAMPLE.read_text("utf-8")], EXAMPLE.name
    sys.path.insert(0, str(ROOT))
    from cleaner.fixtures import load_fixtures

    return [a.text for a in load_fixtures(ROOT / "fixtures")], "the fixtures' articles"


def make_articles(n: int) -> list[str]:
    """N articles that differ slightly (a number in the first sentence), so no two outputs are alike."""
    base, _ = base_articles()
    return [base[i % len(base)].replace(" ", f" {i} ", 1) for i in range(n)]


def as_html(article: str) -> str:
    paragraphs = [p.strip() for p in article.split("\n\n") if p.strip()]
    return "<html><body>" + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs) + "</body></html>"


def measure(command: list[str], ok: tuple[int, ...] = (0,)) -> dict:
    """Wall seconds, CPU seconds (all processes) and peak RSS in kB of one command, from a fresh wrapper."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    peak, cpu, code = done.stdout.split()
    if int(code) not in ok:
        raise SystemExit(f"{' '.join(command)} exited {code}:\n{done.stderr}")
    return {"wall": wall, "cpu": float(cpu), "peak_kb": int(peak)}


def run_cleaner(inputs: Path, out: Path, jobs: int) -> dict:
    report = out.with_suffix(".report.json")
    command = [sys.executable, "-m", "cleaner", "clean", str(inputs), "-o", str(out), "-j", str(jobs),
               "-q", "--report", str(report)]
    figures = measure(command, ok=(0, 1))
    summary = json.loads(report.read_text())
    return {"rate": summary["articles_per_second"], "articles": summary["articles"], **figures}


def run_baseline(tool: str, folder: Path) -> dict:
    figures = measure([sys.executable, __file__, "--baseline", tool, str(folder)])
    result = json.loads((folder / f"{tool}.json").read_text())
    return {"rate": result["articles"] / result["seconds"], "articles": result["articles"], **figures}


def baseline(tool: str, folder: str) -> None:
    """Extract every HTML page of ``folder`` with one tool, in this process; write the timing beside them."""
    pages = [p.read_text("utf-8") for p in sorted(Path(folder).glob("*.html"))]
    if tool == "trafilatura":
        import trafilatura

        def extract(page: str) -> str:
            return trafilatura.extract(page) or ""
    else:
        import justext

        stoplist = justext.get_stoplist("English")

        def extract(page: str) -> str:
            return "\n\n".join(p.text for p in justext.justext(page, stoplist) if not p.is_boilerplate)

    extract(pages[0])  # warm caches and lazy imports, as the cleaner's model is loaded before its clock
    start = time.perf_counter()
    for page in pages:
        extract(page)
    seconds = time.perf_counter() - start
    (Path(folder) / f"{tool}.json").write_text(json.dumps({"articles": len(pages), "seconds": seconds}))


def median_run(repeat: int, run: object, *args: object) -> dict:
    runs = [run(*args) for _ in range(repeat)]  # type: ignore[operator]
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--articles", type=int, default=2000, help="articles per input (default 2000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the median is shown (default 1)")
    parser.add_argument("--memory-check", action="store_true",
                        help="also run -j 2 on a JSONL 5x larger: peak memory must not grow with the input")
    parser.add_argument("--baseline", nargs=2, metavar=("TOOL", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        baseline(*args.baseline)
        return
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    articles = make_articles(args.articles)
    _, name = base_articles()
    rows: list[tuple[str, str, dict]] = []
    with tempfile.TemporaryDirectory(prefix="cleaner-bench-") as tmp:
        work = Path(tmp)
        txt, pages = work / "txt", work / "html"
        txt.mkdir()
        pages.mkdir()
        for i, article in enumerate(articles):
            (txt / f"{i:07d}.txt").write_text(article, "utf-8")
            (pages / f"{i:07d}.html").write_text(as_html(article), "utf-8")
        feed = work / "feed.jsonl"
        feed.write_text("".join(json.dumps({"id": i, "text": a}) + "\n" for i, a in enumerate(articles)), "utf-8")
        for label, inputs in (("txt folder", txt), ("JSONL", feed)):
            for jobs in (1, 2):
                rows.append((f"cleaner clean, {label}", str(jobs),
                             median_run(args.repeat, run_cleaner, inputs, work / f"out-{label[:3]}-{jobs}", jobs)))
        rows.append(("trafilatura.extract, HTML", "1", median_run(args.repeat, run_baseline, "trafilatura", pages)))
        try:
            import justext  # noqa: F401
            rows.append(("jusText, HTML", "1", median_run(args.repeat, run_baseline, "justext", pages)))
        except ImportError:
            print("jusText not installed (pip install -e '.[bench]'): its row is left out", file=sys.stderr)
        memory = None
        if args.memory_check:
            big = work / "big.jsonl"
            with open(big, "w", encoding="utf-8") as handle:
                for copy in range(5):
                    handle.write(feed.read_text("utf-8"))
            memory = (run_cleaner(feed, work / "mem-small", 2), run_cleaner(big, work / "mem-big", 2))

    import joblib
    import sklearn
    import trafilatura

    versions = (f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
                f"trafilatura {trafilatura.__version__}")
    try:
        import justext

        versions += f", jusText {getattr(justext, '__version__', '3')}"
    except ImportError:
        pass
    print(f"{len(articles):,} articles ({name}, {len(articles[0]):,} characters each), "
          f"{os.cpu_count()} cores, median of {args.repeat} run(s); {versions}, joblib {joblib.__version__}")
    print()
    print(f"| {'tool, input':<28} | {'-j':>2} | {'articles/s':>10} | {'wall s':>7} | {'CPU s':>6} "
          f"| {'articles/CPU-s':>14} | {'peak RSS MB':>11} |")
    print(f"|{'-' * 30}|{'-' * 4}|{'-' * 12}|{'-' * 9}|{'-' * 8}|{'-' * 16}|{'-' * 13}|")
    for label, jobs, r in rows:
        print(f"| {label:<28} | {jobs:>2} | {r['rate']:>10,.0f} | {r['wall']:>7.1f} | {r['cpu']:>6.1f} "
              f"| {r['articles'] / r['cpu']:>14,.0f} | {r['peak_kb'] / 1024:>11.0f} |")
    print()
    rate = {(label, jobs): r["rate"] for label, jobs, r in rows}
    for label in ("txt folder", "JSONL"):
        one, two = rate[(f"cleaner clean, {label}", "1")], rate[(f"cleaner clean, {label}", "2")]
        print(f"-j 2 / -j 1, {label}: {two / one:.2f}x")
    traf = rate[("trafilatura.extract, HTML", "1")]
    print(f"cleaner -j 1 (JSONL) / trafilatura: {rate[('cleaner clean, JSONL', '1')] / traf:.2f}x")
    if memory:
        small, big = memory
        print(f"peak RSS, -j 2 JSONL: {small['articles']:,} articles {small['peak_kb'] / 1024:.0f} MB, "
              f"{big['articles']:,} articles {big['peak_kb'] / 1024:.0f} MB")


if __name__ == "__main__":
    main()
