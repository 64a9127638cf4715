"""Command line: a thin layer over the library. Each command maps its options onto one library call."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cleaner import __version__
from cleaner.clean import Cleaner, CleanerConfig
from cleaner.fixtures import FixtureError
from cleaner.gate import GateError
from cleaner.model import ModelError


class _CleanerGroup(click.Group):
    """Turns the library's own errors into one-line messages and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (ModelError, FixtureError, GateError) as exc:
            click.echo(f"cleaner: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_CleanerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cleaner")
def main() -> None:
    """Strip promo and boilerplate paragraphs out of news articles, keep the news body."""


def _load_cleaner(model: str | None, threshold: float | None, keep_boilerplate: bool) -> Cleaner:
    return Cleaner.load(model, CleanerConfig(threshold=threshold, keep_boilerplate=keep_boilerplate))


@main.command("clean")
@click.argument("input_file", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--model", type=click.Path(dir_okay=False), help="Model file (default: the shipped model).")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Drop a paragraph when P(promo or boilerplate) >= this (default: the model's).")
@click.option("--keep-boilerplate", is_flag=True, help="Drop promo only; keep credits, disclaimers, bios.")
def clean_command(input_file: click.utils.LazyFile, model: str | None, threshold: float | None,
                  keep_boilerplate: bool) -> None:
    """Clean one plain-text article and print the body.

    Example: cleaner clean article.txt > article.clean.txt
    """
    cleaner = _load_cleaner(model, threshold, keep_boilerplate)
    click.echo(cleaner.clean(input_file.read()))


@main.command("train")
@click.argument("fixtures", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Where to write the model (.joblib).")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Decision threshold to store (default: chosen from the held-out sweep).")
@click.option("--max-body-lost", default=0.01, show_default=True, type=click.FloatRange(0, 1),
              help="When choosing the threshold: the largest held-out share of body paragraphs lost.")
@click.option("--seed", default=0, show_default=True, help="Random seed (training is deterministic).")
@click.option("-j", "--jobs", default=-1, show_default=True, help="Parallel cross-validation folds (-1: all cores).")
@click.option("--folds", default=10, show_default=True, help="Groups of publisher styles to hold out (0: one style each).")
def train_command(fixtures: str, out: str, threshold: float | None, max_body_lost: float, seed: int, jobs: int,
                  folds: int) -> None:
    """Train the paragraph classifier on labelled fixtures; write the model and its JSON sidecar.

    Example: cleaner train fixtures --out models/cleaner-model.joblib
    """
    from cleaner.evaluate import train

    metrics = train(fixtures, out, threshold, seed, jobs, folds, max_body_lost)
    click.echo(format_sweep(metrics["sweep"]))
    click.echo(
        f"wrote {out} (+ {Path(out).with_suffix('.json').name}) with threshold {metrics['threshold']}; held out by "
        f"publisher style: promo+boilerplate F1 {metrics['removable']['f1']:.4f}, body lost {metrics['body_lost']:.2%}"
    )


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
    from cleaner.evaluate import SWEEP, cross_validate_thresholds, sweep_summary
    from cleaner.fixtures import load_fixtures
    from cleaner.model import load_model

    if update_gate and not gate:
        raise click.UsageError("--update-gate needs --gate FILE")
    if threshold is None:
        threshold = load_model(model)[1].threshold
    thresholds = sorted(set(SWEEP) | {threshold}) if sweep else [threshold]
    evaluations = cross_validate_thresholds(load_fixtures(fixtures), thresholds, seed, jobs, folds)
    metrics = evaluations[threshold].metrics()
    if sweep:
        metrics["sweep"] = sweep_summary(evaluations)
    click.echo(json.dumps(metrics, indent=1) if as_json else format_metrics(metrics))
    if sweep and not as_json:
        click.echo("\n" + format_sweep(metrics["sweep"]))
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
    lines += ["", f"{'style':<24}{'f1':>8}{'body lost':>11}{'articles':>10}"]
    for style, m in metrics["per_style"].items():
        lines.append(f"{style:<24}{m['removable_f1']:>8.4f}{m['body_lost']:>11.2%}{m['articles']:>10}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
