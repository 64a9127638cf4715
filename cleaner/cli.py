"""Command line: a thin layer over the library. Each command maps its options onto one library call."""

from __future__ import annotations

import json
import shutil
import signal
import sys
import textwrap
from collections import Counter
from pathlib import Path

import click

from cleaner import __version__
from cleaner.batch import BatchConfig, BatchError, BatchUsageError, Summary, run_batch
from cleaner.clean import Cleaner, CleanerConfig
from cleaner.explain import Explanation, explain_html, explain_text
from cleaner.fixtures import FixtureError
from cleaner.gate import GateError
from cleaner.html import HTML_THRESHOLD, MAX_REMOVED_SHARE, page_threshold
from cleaner.io import (
    DEFAULT_INCLUDE, FORMATS, MAX_RECORD_BYTES_DEFAULT, ReadOptions, Record, Reject, atomic_path, find_sources,
    read_source,
)
from cleaner.model import ModelError


class _CleanerGroup(click.Group):
    """Turns the library's own errors into one-line messages and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (ModelError, FixtureError, GateError, BatchError) as exc:
            click.echo(f"cleaner: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_CleanerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cleaner")
def main() -> None:
    """Strip promo and boilerplate paragraphs out of news articles, keep the news body."""


_THRESHOLD_HELP = (
    "Drop a paragraph when P(promo or boilerplate) >= this (default: the model's; for web pages, the model's page "
    f"threshold, or {HTML_THRESHOLD} if it has none)."
)


def _load_cleaner(model: str | None, threshold: float | None, keep_boilerplate: bool) -> Cleaner:
    return Cleaner.load(model, CleanerConfig(threshold=threshold, keep_boilerplate=keep_boilerplate))


class ByteSize(click.ParamType):
    """A size in bytes: ``5000000``, ``500k``, ``5M`` or ``1G`` (powers of 1000, as disks count)."""

    name = "size"
    _UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9}

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        number = text.rstrip("kmgb")
        try:
            size = int(float(number) * self._UNITS[text[len(number):]])
        except (ValueError, KeyError):
            self.fail(f"{value!r} is not a size such as 5000000, 500k or 5M", param, ctx)
        if size < 1:
            self.fail(f"{value!r} must be at least one byte", param, ctx)
        return size


def batch_config(
    inputs: tuple[str, ...], output: str | None, input_format: str | None, text_field: str, text_column: str,
    include: tuple[str, ...], encoding: str | None, max_record_size: int, annotate: bool, jobs: int,
    batch_size: int, rejects: str | None, resume: bool, quiet: bool, model: str | None,
    threshold: float | None, keep_boilerplate: bool,
) -> BatchConfig:
    """Map the ``clean`` command's options onto one :class:`BatchConfig` (the only place that does)."""
    try:
        return BatchConfig(
            inputs=inputs or ("-",),
            output_dir=Path(output) if output else None,
            read=ReadOptions(
                format=input_format, text_field=text_field, text_column=text_column, encoding=encoding,
                max_record_bytes=max_record_size, include=include or DEFAULT_INCLUDE,
            ),
            cleaner=CleanerConfig(threshold=threshold, keep_boilerplate=keep_boilerplate, batch_size=batch_size),
            model=model, annotate=annotate, jobs=jobs, rejects=Path(rejects) if rejects else None,
            resume=resume, progress=not quiet,
        )
    except LookupError as exc:
        raise click.BadParameter(str(exc), param_hint="'--encoding'") from None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # a kill ends the run the way Ctrl-C does: no temporary file left behind


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def format_summary(summary: Summary, rejects: str | None) -> str:
    """The end-of-run summary, a few readable lines."""
    skipped = f", {summary.files_skipped:,} skipped as complete" if summary.files_skipped else ""
    removed = ", ".join(f"{label} {n:,}" for label, n in summary.removed.items()) or "none"
    lines = [
        f"cleaned {_count(summary.articles, 'article')} from {_count(summary.files, 'file')}{skipped} "
        f"in {summary.seconds:.1f} s ({summary.articles_per_second:,.0f} articles/s, "
        f"{summary.jobs} process{'' if summary.jobs == 1 else 'es'})",
        f"paragraphs {summary.paragraphs:,}; removed: {removed}",
    ]
    if summary.rejected or summary.rejects_carried_over:
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in summary.rejected_by_kind.items())
        carried = f"; {summary.rejects_carried_over:,} from the resumed part" if summary.rejects_carried_over else ""
        where = f" (listed in {rejects})" if rejects else ""
        lines.append(f"rejected {summary.rejected:,}" + (f": {kinds}" if kinds else "") + carried + where)
    else:
        lines.append("rejected 0")
    return "\n".join(lines)


@main.command("clean")
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, allow_dash=True))
@click.option("-o", "--output", type=click.Path(file_okay=False),
              help="Write outputs into this folder, mirroring the inputs (default: stdout, one input only).")
@click.option("--format", "input_format", type=click.Choice(FORMATS),
              help="Input format, instead of guessing it from each file's extension.")
@click.option("--text-field", default="text", show_default=True, help="JSON field holding the article.")
@click.option("--text-column", default="text", show_default=True, help="CSV/TSV/Parquet column holding the article.")
@click.option("--include", multiple=True, metavar="GLOB",
              help="Files to take from folders (repeatable; default: every supported extension, .gz too).")
@click.option("--encoding", help="Encoding of input that is not UTF-8 (default: detected).")
@click.option("--max-record-size", type=ByteSize(), default=f"{MAX_RECORD_BYTES_DEFAULT // 10**6}M", show_default=True,
              help="Reject records larger than this (e.g. 500k, 5M).")
@click.option("--annotate", is_flag=True,
              help="Add the removed paragraphs (label, score) and the metadata to each output record.")
@click.option("-j", "--jobs", default=-1, show_default=True, help="Worker processes (-1: all cores).")
@click.option("--batch-size", default=512, show_default=True, type=click.IntRange(min=1),
              help="Articles per classifier call (and per worker task).")
@click.option("--rejects", type=click.Path(dir_okay=False),
              help="Write rejected records (location, reason) to this JSON-lines file instead of stderr.")
@click.option("--report", type=click.Path(dir_okay=False), help="Write the summary to this JSON file.")
@click.option("--resume", is_flag=True, help="Skip inputs whose output already exists (needs -o).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@click.option("--model", type=click.Path(dir_okay=False), help="Model file (default: the shipped model).")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help=_THRESHOLD_HELP)
@click.option("--keep-boilerplate", is_flag=True, help="Drop promo only; keep credits, disclaimers, bios.")
def clean_command(report: str | None, **options: object) -> None:
    """Clean articles: one input to standard output, or files and folders into -o DIR.

    \b
    Examples:
      cleaner clean article.txt > article.clean.txt
      cleaner clean feed.jsonl.gz --text-field body -o clean/ --rejects rejects.jsonl
      cleaner clean corpus/ -o clean/ -j 4 --annotate --report summary.json
      cat feed.jsonl | cleaner clean - --format jsonl > feed.clean.jsonl

    Formats come from the extension or --format: .txt, .html/.htm, .jsonl, .json, .csv, .tsv, .parquet,
    each optionally gzipped. Records keep their other fields; the article is replaced by its cleaned text.
    Every record is either written or rejected with its location and a reason.

    Exit status: 0 all cleaned, 1 something was rejected, 2 usage or model error, 130 interrupted.
    """
    config = batch_config(**options)  # type: ignore[arg-type]

    def echo_reject(reject: Reject) -> None:
        click.echo(f"cleaner: rejected {reject.location}: {reject.reason}", err=True)

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        summary = run_batch(config, on_reject=echo_reject)
    except BatchUsageError as exc:
        raise click.UsageError(str(exc)) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    if report:
        try:
            with atomic_path(Path(report)) as tmp:
                tmp.write_text(json.dumps(summary.to_dict(), indent=1) + "\n", "utf-8")
        except OSError as exc:
            raise BatchError(f"cannot write report {report}: {exc.strerror or exc}") from None
    if not options["quiet"]:
        click.echo(format_summary(summary, options["rejects"]), err=True)  # type: ignore[arg-type]
    if summary.interrupted:
        click.echo(
            f"cleaner: interrupted after {summary.files:,} complete files; run again with --resume to finish",
            err=True,
        )
        sys.exit(130)
    sys.exit(0 if summary.clean else 1)


_KEPT_WHOLE = (
    f"page kept whole: the classifier would remove more than {MAX_REMOVED_SHARE:.0%} of the extracted text, "
    "so the extractor wins; the labels and scores below are what the classifier thought"
)


def format_explanation(explanation: Explanation, location: str, full: bool = False, width: int = 100) -> str:
    """An explanation as a table: one row per paragraph, its drivers below it."""
    colours = {"body": "green", "promo": "red", "boilerplate": "yellow"}
    meta = "".join(f" · {k}={v}" for k, v in explanation.metadata.items())
    lines = [click.style(f"{location} · threshold {explanation.threshold:.2f}{meta}", bold=True)]
    if explanation.kept_whole:  # HTML: say why paragraphs labelled promo are kept
        lines.append(textwrap.fill(_KEPT_WHOLE, max(width, 40)))
    lines.append(f"{'#':>4}  {'decision':<17} {'score':>5}  paragraph")
    indent = " " * 31
    text_width = max(width - len(indent), 20)
    for p in explanation.paragraphs:
        decision = click.style(
            f"{'keep' if p.kept else 'DROP':<5} {p.label:<11}", fg=colours.get(p.label), bold=not p.kept
        )
        if full:
            body = textwrap.fill(p.text, text_width, subsequent_indent=indent)
        else:
            first = " ".join(p.text.split())
            body = first if len(first) <= text_width else first[: text_width - 1] + "…"
        lines.append(f"{p.index:>4}  {decision} {p.score:>5.2f}  {body}")
        drivers = "  ".join(
            click.style(f"{d.weight:+.2f}", fg="red" if d.weight > 0 else "green") + f" {d.feature}" for d in p.drivers
        )
        if drivers:
            lines.append(indent + drivers)
    kept = sum(p.kept for p in explanation.paragraphs)
    removed = Counter(p.label for p in explanation.paragraphs if not p.kept)
    what = ", ".join(f"{label} {n}" for label, n in sorted(removed.items())) or "nothing"
    lines.append(f"kept {kept} of {len(explanation.paragraphs)} paragraphs; removed: {what}")
    return "\n".join(lines)


@main.command("explain")
@click.argument("input_file", type=click.Path(exists=True, dir_okay=False, allow_dash=True), default="-")
@click.option("--format", "input_format", type=click.Choice(FORMATS),
              help="Input format (default: from the extension).")
@click.option("--text-field", default="text", show_default=True, help="JSON field holding the article.")
@click.option("--text-column", default="text", show_default=True, help="CSV/TSV/Parquet column holding the article.")
@click.option("--encoding", help="Encoding of input that is not UTF-8 (default: detected).")
@click.option("--top", default=3, show_default=True, type=click.IntRange(min=0), help="Drivers shown per paragraph.")
@click.option("--full", is_flag=True, help="Show whole paragraphs, wrapped, instead of one line each.")
@click.option("--color/--no-color", default=None, help="Colour (default: when writing to a terminal).")
@click.option("--model", type=click.Path(dir_okay=False), help="Model file (default: the shipped model).")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help=_THRESHOLD_HELP)
@click.option("--keep-boilerplate", is_flag=True, help="Drop promo only; keep credits, disclaimers, bios.")
def explain_command(input_file: str, input_format: str | None, text_field: str, text_column: str,
                    encoding: str | None, top: int, full: bool, color: bool | None, model: str | None,
                    threshold: float | None, keep_boilerplate: bool) -> None:
    """Show every paragraph with its label, score and the features that drove the decision.

    Positive weights push toward removal, negative toward keeping. A file of many records (JSON lines,
    CSV, ...) is explained record by record. A web page (.html) is decided as the library decides it: at
    the page threshold, and kept whole when the classifier would remove most of it.

    Example: cleaner explain article.txt
    """
    try:
        options = ReadOptions(format=input_format, text_field=text_field, text_column=text_column, encoding=encoding)
    except LookupError as exc:
        raise click.BadParameter(str(exc), param_hint="'--encoding'") from None
    cleaner = _load_cleaner(model, threshold, keep_boilerplate)
    width = shutil.get_terminal_size((100, 24)).columns
    status = 0
    for source in find_sources([input_file], options):
        for item in read_source(source, options):
            if isinstance(item, Reject):
                click.echo(f"cleaner: rejected {item.location}: {item.reason}", err=True)
                status = 1
            elif isinstance(item, Record):
                explain_record = explain_html if item.markup == "html" else explain_text
                explanation = explain_record(cleaner, item.text, top)
                click.echo(format_explanation(explanation, item.location, full, width), color=color)
    sys.exit(status)


@main.command("train")
@click.argument("fixtures", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Where to write the model (.joblib).")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Decision threshold to store (default: chosen from the held-out sweep).")
@click.option("--max-body-lost", default=0.005, show_default=True, type=click.FloatRange(0, 1),
              help="When choosing the threshold: the largest held-out share of body paragraphs lost.")
@click.option("--max-page-body-lost", default=0.005, show_default=True, type=click.FloatRange(0, 1),
              help="When choosing the page threshold: the same, on the HTML fixtures alone.")
@click.option("--seed", default=0, show_default=True, help="Random seed (training is deterministic).")
@click.option("-j", "--jobs", default=-1, show_default=True, help="Parallel cross-validation folds (-1: all cores).")
@click.option("--folds", default=10, show_default=True, help="Groups of publisher styles to hold out (0: one style each).")
def train_command(fixtures: str, out: str, threshold: float | None, max_body_lost: float,
                  max_page_body_lost: float, seed: int, jobs: int, folds: int) -> None:
    """Train the paragraph classifier on labelled fixtures; write the model and its JSON sidecar.

    Example: cleaner train fixtures --out models/cleaner-model.joblib
    """
    from cleaner.evaluate import train

    metrics = train(fixtures, out, threshold, seed, jobs, folds, max_body_lost, max_page_body_lost)
    click.echo(format_sweep(metrics["sweep"]))
    click.echo(
        f"wrote {out} (+ {Path(out).with_suffix('.json').name}) with threshold {metrics['threshold']}; held out by "
        f"publisher style: promo+boilerplate F1 {metrics['removable']['f1']:.4f}, body lost {metrics['body_lost']:.2%}"
    )
    if metrics.get("html_threshold") is not None:
        click.echo("\n" + format_page_sweep(metrics["html_sweep"]))
        click.echo(f"page threshold {metrics['html_threshold']} (best held-out F1 on the HTML fixtures within the body-lost limit)")


@main.command("evaluate")
@click.argument("fixtures", type=click.Path(exists=True, file_okay=False))
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Decision threshold (default: the one stored with --model).")
@click.option("--model", type=click.Path(dir_okay=False), help="Whose threshold to use (default: the shipped model).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--sweep", is_flag=True, help="Also print precision/recall/body lost at other thresholds.")
@click.option("--gate", type=click.Path(dir_okay=False), help="Fail (exit 1) if a metric breaks this gate file.")
@click.option("--update-gate", is_flag=True, help="Pin the measured metrics in the --gate file.")
@click.option("--allow-lower", is_flag=True, help="With --update-gate: allow loosening a limit.")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("-j", "--jobs", default=-1, show_default=True, help="Parallel folds (-1: all cores).")
@click.option("--folds", default=10, show_default=True, help="Groups of publisher styles to hold out (0: one style each).")
def evaluate_command(fixtures: str, threshold: float | None, as_json: bool, sweep: bool, gate: str | None,
                     update_gate: bool, allow_lower: bool, model: str | None, seed: int, jobs: int, folds: int) -> None:
    """Cross-validate with whole publisher styles held out; print per-label and article metrics.

    Example: cleaner evaluate fixtures --gate tests/quality_gate.json
    """
    from cleaner import gate as gates
    from cleaner.evaluate import PAGE_SWEEP, SWEEP, cross_validate_all, page_summary, sweep_summary
    from cleaner.fixtures import load_fixtures
    from cleaner.model import load_model

    if update_gate and not gate:
        raise click.UsageError("--update-gate needs --gate FILE")
    info = load_model(model)[1]
    if threshold is None:
        threshold = info.threshold
    on_pages = page_threshold(info)
    thresholds = sorted(set(SWEEP) | {threshold}) if sweep else [threshold]
    page_thresholds = sorted(set(PAGE_SWEEP) | {on_pages}) if sweep else [on_pages]
    evaluations, page_evaluations = cross_validate_all(
        load_fixtures(fixtures), thresholds, page_thresholds, seed, jobs, folds
    )
    metrics = evaluations[threshold].metrics()
    if sweep:
        metrics["sweep"] = sweep_summary(evaluations)
    if page_evaluations:
        metrics["html_pages"] = page_summary(page_evaluations, on_pages)
        if sweep:
            metrics["html_pages"]["sweep"] = sweep_summary(page_evaluations)
    click.echo(json.dumps(metrics, indent=1) if as_json else format_metrics(metrics))
    if sweep and not as_json:
        click.echo("\n" + format_sweep(metrics["sweep"]))
        if "html_pages" in metrics:
            click.echo("\n" + format_page_sweep(metrics["html_pages"]["sweep"]))
    if gate and update_gate:
        limits = gates.update_gate(metrics, gate, allow_lower)
        click.echo(f"gate {gate} updated: {limits}", err=True)
    elif gate:
        failures = gates.check_gate(metrics, gates.read_gate(gate))
        for failure in failures:
            click.echo(f"cleaner: gate failed: {failure}", err=True)
        if failures:
            sys.exit(1)
        click.echo(f"gate {gate}: passed", err=True)


def format_sweep(sweep: list[dict]) -> str:
    """The threshold trade-off as a table."""
    lines = [f"{'threshold':>10}{'precision':>11}{'recall':>9}{'f1':>9}{'body lost':>11}{'exact':>8}"]
    for row in sweep:
        lines.append(
            f"{row['threshold']:>10}{row['precision']:>11.4f}{row['recall']:>9.4f}{row['f1']:>9.4f}"
            f"{row['body_lost']:>11.2%}{row['articles_exact']:>8.2%}"
        )
    return "\n".join(lines)


def format_page_sweep(sweep: list[dict]) -> str:
    """The HTML fixtures' own trade-off (what the page threshold is chosen on), under its heading."""
    return "HTML pages alone (page rule applied):\n" + format_sweep(sweep)


def format_metrics(metrics: dict) -> str:
    """The evaluation as a readable report."""
    lines = [
        f"held out by publisher style ({metrics['styles']} styles in {metrics['folds']} folds): "
        f"{metrics['articles']} articles, {metrics['paragraphs']} paragraphs, threshold {metrics['threshold']}",
        "",
        f"{'label':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    rows = dict(metrics["per_label"], **{"promo+boiler": metrics["removable"]})
    for label, m in rows.items():
        lines.append(f"{label:<14}{m['precision']:>10.4f}{m['recall']:>10.4f}{m['f1']:>10.4f}{m['support']:>10}")
    lines += [
        "",
        f"body paragraphs lost: {metrics['body_lost']:.2%} ({metrics['body_lost_count']})",
        f"articles cleaned exactly: {metrics['articles_exact']:.2%}",
        "",
        "confusion (rows: truth, columns: predicted)",
        " " * 14 + "".join(f"{label:>13}" for label in metrics["confusion"]["labels"]),
    ]
    for label, row in zip(metrics["confusion"]["labels"], metrics["confusion"]["matrix"]):
        lines.append(f"{label:<14}" + "".join(f"{v:>13}" for v in row))
    if "html_pages" in metrics:
        pages = metrics["html_pages"]
        lines += [
            "",
            f"HTML pages alone, at the page threshold {pages['threshold']} with the page rule: {pages['articles']} "
            f"pages, promo+boiler F1 {pages['removable']['f1']:.4f} (P {pages['removable']['precision']:.4f} "
            f"R {pages['removable']['recall']:.4f}), body lost {pages['body_lost']:.2%}, "
            f"exact {pages['articles_exact']:.2%}",
        ]
    lines += ["", f"{'style':<24}{'f1':>8}{'body lost':>11}{'articles':>10}"]
    for style, m in metrics["per_style"].items():
        lines.append(f"{style:<24}{m['removable_f1']:>8.4f}{m['body_lost']:>11.2%}{m['articles']:>10}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
