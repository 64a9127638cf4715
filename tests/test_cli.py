"""The command line, in-process with click's CliRunner (and one real kill, in a subprocess)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cleaner import Cleaner
from cleaner.batch import Summary
from cleaner.cli import batch_config, format_summary, main
from tests.conftest import (
    ARTICLE, HEADLINE, MILD_PROMO, MILD_PROMO_PAGE, MOSTLY_PROMO_PAGE, PAGE, PROMO, USER_EXAMPLE,
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def article_file(tmp_path: Path, name: str = "a.txt", text: str = ARTICLE) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_clean_one_text_file_prints_the_cleaned_text_and_one_newline(tmp_path: Path, cleaned: str) -> None:
    result = cli("clean", article_file(tmp_path))
    assert result.exit_code == 0
    assert result.stdout_bytes == (cleaned + "\n").encode()
    assert "cleaned 1 article from 1 file" in result.stderr and "removed: promo 1" in result.stderr


@pytest.mark.skipif(not USER_EXAMPLE.exists(), reason=f"the user's example is not at {USER_EXAMPLE}")
def test_the_users_example_matches_its_expected_output() -> None:
    result = cli("clean", USER_EXAMPLE, "-q")
    expected = USER_EXAMPLE.with_name(USER_EXAMPLE.name.replace(".txt", ".expected.txt"))
    assert result.exit_code == 0 and result.stdout_bytes == expected.read_bytes() and result.stderr == ""


@pytest.mark.parametrize("page", [PAGE, MILD_PROMO_PAGE, MOSTLY_PROMO_PAGE], ids=["promo", "mild", "mostly-promo"])
def test_clean_an_html_file_gives_what_analyze_html_gives(tmp_path: Path, cleaner: Cleaner, page: str) -> None:
    result = cli("clean", article_file(tmp_path, "page.html", page), "-q")
    assert result.exit_code == 0 and result.stdout == cleaner.analyze_html(page).text + "\n"


def test_a_threshold_given_applies_to_html_too(tmp_path: Path, cleaner: Cleaner) -> None:
    result = cli("clean", article_file(tmp_path, "page.html", MILD_PROMO_PAGE), "-q", "--threshold", "0.5")
    assert result.stdout == cleaner.with_config(threshold=0.5).analyze_html(MILD_PROMO_PAGE).text + "\n"
    assert MILD_PROMO not in result.stdout


def test_stdin_jsonl_to_stdout(cleaned: str) -> None:
    lines = json.dumps({"id": 7, "text": ARTICLE}) + "\n"
    result = cli("clean", "-", "--format", "jsonl", "-q", input=lines.encode())
    assert result.exit_code == 0 and json.loads(result.stdout) == {"id": 7, "text": cleaned}


def test_annotate_a_text_file_gives_a_json_record(tmp_path: Path, cleaned: str) -> None:
    result = cli("clean", article_file(tmp_path), "--annotate", "-q")
    record = json.loads(result.stdout)
    assert record["text"] == cleaned and record["cleaner_metadata"] == {"date": "2024-10-24"}
    assert [(r["label"], r["text"]) for r in record["cleaner_removed"]] == [("promo", PROMO)]


def test_rejects_go_to_stderr_one_line_each_and_exit_1(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"text": ARTICLE}) + "\n{nope\n" + json.dumps({"body": "x"}) + "\n")
    result = cli("clean", feed, "-q")
    assert result.exit_code == 1 and len(result.stdout.splitlines()) == 1
    assert result.stderr.splitlines() == [
        f"cleaner: rejected {feed}:2: malformed JSON line "
        "(Expecting property name enclosed in double quotes at column 2)",
        f"cleaner: rejected {feed}:3: missing field 'text'",
    ]


def test_folder_to_output_folder_with_rejects_and_report_files(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    article_file(corpus / "sub")
    article_file(corpus, "empty.txt", "")
    article_file(corpus, "big.txt", ARTICLE * 3)
    out, rejects, report = tmp_path / "out", tmp_path / "rejects.jsonl", tmp_path / "report.json"
    result = cli("clean", corpus, "-o", out, "--rejects", rejects, "--report", report, "--max-record-size", "1k")
    assert result.exit_code == 1 and result.stdout == ""
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == ["sub/a.txt"]
    assert [json.loads(x)["kind"] for x in rejects.read_text().splitlines()] == ["oversized", "empty"]
    summary = json.loads(report.read_text())
    counts = (summary["articles"], summary["rejected"], summary["rejected_by_kind"])
    assert counts == (1, 2, {"empty": 1, "oversized": 1})
    assert "rejected 2: empty 1, oversized 1 (listed in" in result.stderr


def test_resume_through_the_cli(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    article_file(corpus)
    out = tmp_path / "out"
    assert cli("clean", corpus, "-o", out, "-q").exit_code == 0
    result = cli("clean", corpus, "-o", out, "--resume")
    assert result.exit_code == 0 and "cleaned 0 articles from 0 files, 1 skipped as complete" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["clean", "{dir}"], "need an output folder (-o DIR)"),
        (["clean", "{file}", "--resume"], "--resume needs an output folder"),
        (["clean", "{file}", "--encoding", "klingon"], "unknown encoding: klingon"),
        (["clean", "{file}", "--max-record-size", "lots"], "is not a size"),
        (["clean", "{dir}/missing.txt"], "does not exist"),
        (["clean", "{file}", "--format", "docx"], "'docx' is not one of"),
        (["explain", "{file}", "--encoding", "klingon"], "unknown encoding: klingon"),
    ],
)
def test_usage_errors_exit_2_with_one_message(tmp_path: Path, args: list[str], message: str) -> None:
    file = article_file(tmp_path)
    result = cli(*[a.format(dir=tmp_path, file=file) for a in args])
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_model_error_exits_2_with_one_line(tmp_path: Path) -> None:
    result = cli("clean", article_file(tmp_path), "--model", tmp_path / "none.joblib")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"cleaner: error: model file {tmp_path / 'none.joblib'} not found "
        f"(train one with `cleaner train FIXTURES --out {tmp_path / 'none.joblib'}`)"
    ]


def test_unwritable_output_exits_2_with_one_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "a.txt").mkdir(parents=True)  # the output's place is taken by a folder
    result = cli("clean", article_file(tmp_path), "-o", out, "-q")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"cleaner: error: cannot write {out / 'a.txt'} (for {tmp_path / 'a.txt'}): ")
    assert [p.name for p in out.iterdir()] == ["a.txt"]  # and no temporary file left


@pytest.mark.parametrize("option", ["--rejects", "--report"])
def test_unwritable_rejects_or_report_file_exits_2_with_one_line(tmp_path: Path, option: str) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file, so nothing can be created under it")
    result = cli("clean", article_file(tmp_path), "-q", option, blocker / "x.json")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("cleaner: error: cannot write ") and "Traceback" not in result.stderr


def test_batch_config_maps_every_option() -> None:
    config = batch_config(
        inputs=("a.jsonl",), output="out", input_format="jsonl", text_field="body", text_column="col",
        include=("*.jsonl",), encoding="latin-1", max_record_size=1000, annotate=True, jobs=2, batch_size=64,
        rejects="r.jsonl", resume=True, quiet=True, model="m.joblib", threshold=0.7, keep_boilerplate=True,
    )
    assert (config.inputs, config.output_dir, config.model, config.jobs) == (("a.jsonl",), Path("out"), "m.joblib", 2)
    assert (config.read.format, config.read.text_field, config.read.text_column) == ("jsonl", "body", "col")
    assert (config.read.encoding, config.read.max_record_bytes, config.read.include) == ("latin-1", 1000, ("*.jsonl",))
    assert (config.cleaner.threshold, config.cleaner.keep_boilerplate, config.cleaner.batch_size) == (0.7, True, 64)
    assert config.annotate and config.resume and not config.progress and config.rejects == Path("r.jsonl")


def test_format_summary() -> None:
    summary = Summary(3, 1, 1200, 13000, {"boilerplate": 2, "promo": 310}, 2, {"empty": 1, "malformed": 1}, 1, 4.0, 2)
    assert format_summary(summary, "rejects.jsonl") == (
        "cleaned 1,200 articles from 3 files, 1 skipped as complete in 4.0 s (300 articles/s, 2 processes)\n"
        "paragraphs 13,000; removed: boilerplate 2, promo 310\n"
        "rejected 2: empty 1, malformed 1; 1 from the resumed part (listed in rejects.jsonl)"
    )


# ---------------------------------------------------------------------------------------------- explain


def test_explain_shows_every_paragraph_its_decision_and_drivers(tmp_path: Path) -> None:
    result = cli("explain", article_file(tmp_path), "--no-color")
    assert result.exit_code == 0 and not ANSI.search(result.stdout)
    lines = result.stdout.splitlines()
    threshold = Cleaner.load().threshold
    assert lines[0] == f"{tmp_path / 'a.txt'} · threshold {threshold:.2f} · date=2024-10-24"
    rows = [line for line in lines if re.match(r"^\s+\d+\s+(keep|DROP)", line)]
    assert len(rows) == 5 and "DROP  promo" in rows[2] and PROMO[:40] in rows[2]
    assert all(line.startswith(" " * 31) and re.search(r"[+-]\d+\.\d\d \S+:", line) for line in lines[3:12:2])
    assert lines[-1] == "kept 4 of 5 paragraphs; removed: promo 1"


def test_explain_full_shows_whole_paragraphs(tmp_path: Path) -> None:
    result = cli("explain", article_file(tmp_path), "--no-color", "--full", "--top", "0")
    text = " ".join(result.stdout.split())
    assert PROMO in text and "The company will report fourth-quarter results in February." in text


def test_explain_colour_on_request_and_records_of_a_feed(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"text": ARTICLE}) + "\n" + json.dumps({"text": "Markets were calm."}) + "\n")
    result = cli("explain", feed, "--color", "--top", "1")
    assert result.exit_code == 0 and ANSI.search(result.stdout)
    plain = ANSI.sub("", result.stdout)
    assert f"{feed}:1 · threshold" in plain and f"{feed}:2 · threshold" in plain


def test_explain_an_html_page_shows_the_decisions_of_the_html_path(tmp_path: Path, cautious_page_model: Path) -> None:
    page = article_file(tmp_path, "page.html", MILD_PROMO_PAGE)
    result = cli("explain", page, "--no-color", "--top", "0", "--model", str(cautious_page_model))
    lines = result.stdout.splitlines()
    assert lines[0] == f"{tmp_path / 'page.html'} · threshold 1.00 · title={HEADLINE}"  # 0.999, as the sidecar says
    # Scored above the model's text threshold but below the page threshold: kept, and labelled body.
    assert re.match(rf"^\s+4\s+keep\s+body\s+0\.\d\d\s+{re.escape(MILD_PROMO)}$", lines[-2])
    assert lines[-1] == "kept 5 of 5 paragraphs; removed: nothing"
    promo_page = cli("explain", article_file(tmp_path, "promo.html", PAGE), "--no-color", "--top", "0")
    assert "DROP  promo" in promo_page.stdout and "page kept whole" not in promo_page.stdout


def test_explain_says_when_the_extractor_wins(tmp_path: Path) -> None:
    result = cli("explain", article_file(tmp_path, "page.html", MOSTLY_PROMO_PAGE), "--no-color", "--top", "0")
    lines = result.stdout.splitlines()
    said = " ".join(result.stdout.split())
    assert "page kept whole: the classifier would remove more than 50% of the extracted text, so the extractor" in said
    rows = [line for line in lines if re.match(r"^\s+\d+\s+(keep|DROP)", line)]
    assert len(rows) == 7 and all("keep  promo" in row for row in rows[1:])
    assert lines[-1] == "kept 7 of 7 paragraphs; removed: nothing"


def test_explain_rejected_input_exits_1(tmp_path: Path) -> None:
    result = cli("explain", article_file(tmp_path, "e.txt", " "))
    assert result.exit_code == 1 and result.stderr == f"cleaner: rejected {tmp_path / 'e.txt'}: empty article\n"


@pytest.mark.parametrize("command", ["clean", "explain", "train", "evaluate"])
def test_every_command_is_documented_with_an_example(command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0 and "Example" in result.stdout


# ---------------------------------------------------------------------------------------------- a real kill


def test_killed_run_leaves_no_partial_file_and_exits_130(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text((json.dumps({"text": ARTICLE}) + "\n") * 3000)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "cleaner", "clean", str(feed), "-o", str(out), "-j", "1", "--batch-size", "50", "-q"],
        env=env, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not list(out.glob(".feed.jsonl.*.tmp")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until the output is being written
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert list(out.iterdir()) == [] if out.exists() else True
    assert process.returncode == 130, stderr.decode()
    assert "interrupted after 0 complete files; run again with --resume" in stderr.decode()


def _processes_running(marker: str) -> list[int]:
    """Pids of the processes whose command line mentions ``marker`` (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:  # ended while we looked
            pass
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked workers and /proc are Linux's")
def test_workers_end_with_a_run_that_is_killed_outright(tmp_path: Path) -> None:
    # kill -9 gives the batch process no chance to stop its workers; they must not live on, idle.
    feed = tmp_path / "feed.jsonl"
    feed.write_text((json.dumps({"text": ARTICLE}) + "\n") * 6000)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "cleaner", "clean", str(feed), "-o", str(out), "-j", "2", "--batch-size", "50", "-q"],
        env=dict(os.environ, PYTHONPATH=str(ROOT)), stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(_processes_running(str(feed))) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # wait for the two workers
    assert len(_processes_running(str(feed))) == 3, "the run did not start two workers"
    process.kill()
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while _processes_running(str(feed)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_running(str(feed)) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked workers and /proc are Linux's")
def test_a_worker_that_dies_stops_the_run_with_a_clear_error_and_keeps_finished_outputs(tmp_path: Path) -> None:
    # A worker killed under the run (the kernel's out-of-memory killer, an operator) must not hang the
    # run or leave a traceback: the batch says what happened, keeps what is complete, exits 2.
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.txt").write_text(ARTICLE, encoding="utf-8")  # complete before the big file starts
    (inputs / "b.jsonl").write_text((json.dumps({"text": ARTICLE}) + "\n") * 6000, encoding="utf-8")
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "cleaner", "clean", str(inputs), "-o", str(out), "-j", "2", "--batch-size", "50", "-q"],
        env=dict(os.environ, PYTHONPATH=str(ROOT)), stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not list(out.glob(".b.jsonl.*.tmp")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until the big file is being written
    workers = [pid for pid in _processes_running(str(inputs)) if pid != process.pid]
    assert len(workers) == 2, "the run did not start two workers"
    os.kill(workers[0], signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr.decode()
    message = stderr.decode().strip().splitlines()[-1]
    assert message.startswith("cleaner: error: a worker process died") and "--resume" in message
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]  # finished output kept, no temporary file
