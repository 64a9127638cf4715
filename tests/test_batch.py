"""The batch runner: counts add up, order and parallelism, fault isolation, resume, atomic outputs."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import pytest

from cleaner import batch
from cleaner import io as cio
from cleaner.batch import BatchConfig, BatchUsageError, Summary, run_batch
from cleaner.clean import Cleaner, CleanerConfig
from cleaner.html import MAX_REMOVED_SHARE, html_cleaner, segment_html
from cleaner.io import ReadOptions, Reject
from cleaner.model import ModelError
from tests.conftest import ARTICLE, BODY, HEADLINE, MILD_PROMO, MILD_PROMO_PAGE, MOSTLY_PROMO_PAGE, PAGE, PROMO


def jsonl(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), "utf-8")
    return path


def run(inputs: list[Path | str], out: Path | None, **changes: object) -> tuple[Summary, list[Reject]]:
    seen: list[Reject] = []
    cleaner_config = CleanerConfig(batch_size=int(changes.pop("batch_size", 512)))  # type: ignore[arg-type]
    config = BatchConfig(
        inputs=tuple(str(i) for i in inputs), output_dir=out, cleaner=cleaner_config,
        jobs=int(changes.pop("jobs", 1)), progress=False, **changes,  # type: ignore[arg-type]
    )
    return run_batch(config, on_reject=seen.append), seen


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """A small mixed corpus: 6 good articles and 5 bad records across txt, JSONL and CSV."""
    root = tmp_path / "corpus"
    (root / "wire").mkdir(parents=True)
    (root / "wire" / "a.txt").write_text(ARTICLE)
    (root / "wire" / "empty.txt").write_text("\n\n")
    (root / "wire" / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    jsonl(root / "feed.jsonl", [{"id": 1, "text": ARTICLE}, "{oops", {"id": 3}, {"id": 4, "text": ARTICLE}])
    (root / "export.csv").write_text('id,text\n1,"' + ARTICLE.replace('"', '""') + '"\n2,"Short one."\n3\n')
    (root / "notes.md").write_text("not an input")
    return root


def test_every_record_is_written_or_rejected_and_the_tree_is_mirrored(
    corpus: Path, tmp_path: Path, cleaned: str,
) -> None:
    out = tmp_path / "out"
    summary, seen = run([corpus], out)
    assert files_under(out) == ["export.csv", "feed.jsonl", "wire/a.txt"]
    assert (out / "wire" / "a.txt").read_text() == cleaned + "\n"
    feed = [json.loads(line) for line in (out / "feed.jsonl").read_text().splitlines()]
    assert feed == [{"id": 1, "text": cleaned}, {"id": 4, "text": cleaned}]
    assert summary.articles == 5 and summary.rejected == 5 and summary.articles + summary.rejected == 10
    assert summary.rejected_by_kind == {"binary": 1, "empty": 1, "malformed": 2, "missing-field": 1}
    assert summary.removed == {"promo": 4} and summary.files == 5 and not summary.clean
    assert sorted(r.location for r in seen) == sorted([
        str(corpus / "wire" / "empty.txt"), str(corpus / "wire" / "photo.txt"), f"{corpus / 'feed.jsonl'}:2",
        f"{corpus / 'feed.jsonl'}:3", f"{corpus / 'export.csv'}:{2 + ARTICLE.count(chr(10)) + 2}",  # line of row 3
    ])


def test_parallel_output_is_identical_to_sequential(tmp_path: Path) -> None:
    rows = [{"id": i, "text": ARTICLE.replace("Tuesday", f"day {i}")} for i in range(9)] + ["{bad"]
    feed = jsonl(tmp_path / "in" / "feed.jsonl", rows)
    one, _ = run([feed], tmp_path / "j1", batch_size=2, jobs=1)
    two, _ = run([feed], tmp_path / "j2", batch_size=2, jobs=2)
    assert two.jobs == 2 and one.jobs == 1
    assert (tmp_path / "j1" / "feed.jsonl").read_bytes() == (tmp_path / "j2" / "feed.jsonl").read_bytes()
    ids = [json.loads(line)["id"] for line in (tmp_path / "j2" / "feed.jsonl").read_text().splitlines()]
    assert ids == list(range(9))  # input order
    assert (one.articles, one.rejected) == (two.articles, two.rejected) == (9, 1)


def test_a_small_input_does_not_start_workers(tmp_path: Path) -> None:
    feed = jsonl(tmp_path / "feed.jsonl", [{"text": ARTICLE}])
    summary, _ = run([feed], tmp_path / "out", jobs=2)
    assert summary.jobs == 1 and summary.articles == 1


def test_an_article_the_cleaner_fails_on_is_rejected_and_the_batch_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cleaned: str,
) -> None:
    original = Cleaner.analyze_batch

    def fragile(self: Cleaner, texts: list[str]) -> list:
        if any("BOOM" in t for t in texts):
            raise ValueError("cannot featurize")
        return original(self, texts)

    monkeypatch.setattr(Cleaner, "analyze_batch", fragile)
    feed = jsonl(tmp_path / "feed.jsonl", [{"text": ARTICLE}, {"text": "BOOM goes the article."}, {"text": ARTICLE}])
    summary, seen = run([feed], tmp_path / "out")
    assert summary.articles == 2 and summary.rejected_by_kind == {"failed": 1}
    assert seen[0].location == f"{feed}:2" and "ValueError: cannot featurize" in seen[0].reason
    assert [json.loads(x)["text"] for x in (tmp_path / "out" / "feed.jsonl").read_text().splitlines()] == [cleaned] * 2


def test_html_is_decided_by_the_html_path(tmp_path: Path, cleaner: Cleaner, cleaned: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(ARTICLE, "utf-8")  # text and a page in one chunk, each by its own path
    (folder / "page.html").write_text(PAGE, "utf-8")
    summary, _ = run([folder], tmp_path / "out", annotate=True)
    assert summary.articles == 2 and files_under(tmp_path / "out") == ["a.json", "page.json"]
    assert json.loads((tmp_path / "out" / "a.json").read_text())["text"] == cleaned
    record = json.loads((tmp_path / "out" / "page.json").read_text())
    assert record["text"] == cleaner.analyze_html(PAGE).text == "\n\n".join(BODY)
    assert [r["text"] for r in record["cleaner_removed"]] == [PROMO]
    assert record["cleaner_metadata"] == {"title": HEADLINE}


def test_pages_are_decided_at_the_html_threshold(tmp_path: Path, cautious_page_model: Path) -> None:
    cautious = Cleaner.load(cautious_page_model)
    score = next(p.score for p in cautious.analyze_html(MILD_PROMO_PAGE).paragraphs if p.text == MILD_PROMO)
    assert cautious.threshold <= score < html_cleaner(cautious).threshold, "the test line no longer sits between the thresholds"
    page = tmp_path / "page.html"
    page.write_text(MILD_PROMO_PAGE, "utf-8")
    summary, _ = run([page], tmp_path / "out", model=str(cautious_page_model))
    assert (tmp_path / "out" / "page.txt").read_text() == "\n\n".join([*BODY, MILD_PROMO]) + "\n"
    assert summary.removed == {}


def test_a_page_the_classifier_would_mostly_remove_is_kept_whole(tmp_path: Path, cleaner: Cleaner) -> None:
    segmentation = segment_html(MOSTLY_PROMO_PAGE)
    would = html_cleaner(cleaner).analyze_paragraphs([(segmentation.paragraphs, segmentation.metadata)])[0]
    removed = sum(len(p.text) for p in would.removed)
    assert removed > MAX_REMOVED_SHARE * sum(len(p.text) for p in would.paragraphs), "the page no longer tests the rule"
    page = tmp_path / "page.html"
    page.write_text(MOSTLY_PROMO_PAGE, "utf-8")
    summary, _ = run([page], tmp_path / "out", annotate=True)
    record = json.loads((tmp_path / "out" / "page.json").read_text())
    assert record["text"] == "\n\n".join(p.text for p in segmentation.paragraphs)  # the extractor's output
    assert record["cleaner_removed"] == [] and summary.removed == {}


def test_stdout_for_a_single_input(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], cleaned: str) -> None:
    feed = jsonl(tmp_path / "feed.jsonl", [{"text": ARTICLE, "k": "v"}])
    summary, _ = run([feed], None)
    expected = json.dumps({"text": cleaned, "k": "v"}, ensure_ascii=False) + "\n"
    assert capsysbinary.readouterr().out == expected.encode()
    assert summary.clean


@pytest.mark.parametrize(
    ("inputs", "changes", "message"),
    [
        (["corpus"], {}, "need an output folder"),
        (["a.txt", "b.txt"], {}, "need an output folder"),
        (["corpus"], {"output_dir": "corpus"}, "outputs would overwrite inputs"),
        (["a.txt"], {"output_dir": "a.txt"}, "is a file, not a folder"),
    ],
)
def test_impossible_configurations_are_usage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inputs: list[str], changes: dict, message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "a.txt").write_text(ARTICLE)
    (tmp_path / "b.txt").write_text(ARTICLE)
    out = Path(changes["output_dir"]) if "output_dir" in changes else None
    with pytest.raises(BatchUsageError, match=message):
        run(inputs, out)


def test_resume_needs_an_output_folder() -> None:
    with pytest.raises(BatchUsageError, match="--resume needs"):
        BatchConfig(inputs=("a.txt",), resume=True)


def test_a_bad_model_stops_before_any_output(tmp_path: Path) -> None:
    feed = jsonl(tmp_path / "feed.jsonl", [{"text": ARTICLE}])
    with pytest.raises(ModelError, match="not found"):
        run([feed], tmp_path / "out", model=str(tmp_path / "missing.joblib"))
    assert not (tmp_path / "out").exists()


def test_inputs_are_never_overwritten_and_outputs_never_collide(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    first = jsonl(tmp_path / "x" / "feed.jsonl", [{"text": ARTICLE}])
    second = jsonl(tmp_path / "y" / "feed.jsonl", [{"text": ARTICLE}])
    before = first.read_bytes()
    summary, seen = run([first], tmp_path / "x")
    assert first.read_bytes() == before and seen[0].kind == "conflict" and "overwrite the input" in seen[0].reason
    summary, seen = run([first, second], tmp_path / "out")
    assert summary.files == 1 and [r.location for r in seen] == [str(second)]
    assert "also the output of" in seen[0].reason


def test_an_output_folder_inside_the_input_folder_is_not_read_back(corpus: Path) -> None:
    run([corpus], corpus / "clean")
    run([corpus], corpus / "clean")
    assert not (corpus / "clean" / "clean").exists()


def test_reading_is_streamed_chunk_by_chunk(tmp_path: Path) -> None:
    """Memory stays flat: the reader is pulled one chunk at a time and holds nothing more."""
    feed = jsonl(tmp_path / "feed.jsonl", [{"text": f"Article {i}."} for i in range(1000)])
    config = BatchConfig(inputs=(str(feed),), output_dir=tmp_path / "out")
    pending: deque = deque()
    sizes = []
    for payload in batch._units(config, pending, chunk_size=10):
        sizes.append(len(payload))
        assert len(pending) == 1  # exactly the chunk just handed out
        pending.popleft()
    assert sizes == [10] * 100 + [0]  # the last one carries only the end of the file


def test_bad_records_alone_still_flush_in_bounded_chunks(tmp_path: Path) -> None:
    feed = jsonl(tmp_path / "feed.jsonl", ["{bad"] * 100)
    config = BatchConfig(inputs=(str(feed),), output_dir=tmp_path / "out")
    pending: deque = deque()
    for payload in batch._units(config, pending, chunk_size=5):
        assert payload == [] and len(pending.popleft()) <= 20


# ---------------------------------------------------------------------------------------------- resume


def interrupt_on(marker: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate Ctrl-C arriving while the chunk holding ``marker`` is being cleaned."""
    original = batch.clean_chunk

    def interrupted(model: str | None, config: CleanerConfig, payload: list[tuple[str, str]]) -> list:
        if any(marker in text for _, text in payload):
            raise KeyboardInterrupt
        return original(model, config, payload)

    monkeypatch.setattr(batch, "clean_chunk", interrupted)


def test_interrupted_run_leaves_only_complete_files_and_resume_finishes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    inputs = tmp_path / "in"
    jsonl(inputs / "a.jsonl", [{"text": ARTICLE}, "{bad a", {"text": ARTICLE}])
    jsonl(inputs / "b.jsonl", [{"text": ARTICLE}, {"text": ARTICLE}, "{bad b", {"text": ARTICLE},
                               {"text": "STOP " + ARTICLE}, {"text": ARTICLE}])
    out, rejects = tmp_path / "out", tmp_path / "rejects.jsonl"
    interrupt_on("STOP", monkeypatch)
    first, _ = run([inputs], out, batch_size=2, rejects=rejects)
    assert first.interrupted and first.files == 1
    assert files_under(out) == ["a.jsonl"]  # b was being written: no trace of it, not even a temporary file
    # b's bad line was in the interrupted chunk: not logged, as b's output was not written either
    assert [json.loads(x)["location"] for x in rejects.read_text().splitlines()] == [f"{inputs / 'a.jsonl'}:2"]
    monkeypatch.undo()
    second, _ = run([inputs], out, batch_size=2, rejects=rejects, resume=True)
    assert not second.interrupted and second.files_skipped == 1 and second.files == 1
    assert second.articles == 5 and second.rejected == 1 and second.rejects_carried_over == 1
    assert len((out / "b.jsonl").read_text().splitlines()) == 5
    assert [json.loads(x)["location"] for x in rejects.read_text().splitlines()] == [
        f"{inputs / 'a.jsonl'}:2", f"{inputs / 'b.jsonl'}:3",  # carried over once, found again once
    ]


def test_interrupted_rewrite_keeps_the_previous_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    feed = jsonl(tmp_path / "in" / "feed.jsonl", [{"text": ARTICLE}] * 4 + [{"text": "STOP " + ARTICLE}])
    out = tmp_path / "out"
    (out).mkdir()
    (out / "feed.jsonl").write_text("earlier complete run\n")
    interrupt_on("STOP", monkeypatch)
    summary, _ = run([feed], out, batch_size=2)
    assert summary.interrupted
    assert files_under(out) == ["feed.jsonl"] and (out / "feed.jsonl").read_text() == "earlier complete run\n"


def test_resume_with_nothing_left_to_do(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run([corpus], out)
    summary, _ = run([corpus], out, resume=True)
    # the article files and feeds are complete; the rejected txt files have no output and are read again
    assert summary.files_skipped == 3 and summary.articles == 0 and summary.rejected == 2


def test_summary_to_dict() -> None:
    summary = Summary(2, 1, 10, 100, {"promo": 7}, 1, {"empty": 1}, 0, 2.0, 2)
    assert summary.to_dict() == {
        "files": 2, "files_skipped": 1, "articles": 10, "paragraphs": 100, "paragraphs_removed": {"promo": 7},
        "rejected": 1, "rejected_by_kind": {"empty": 1}, "rejects_carried_over": 0, "seconds": 2.0,
        "articles_per_second": 5.0, "jobs": 2, "interrupted": False,
    }
    assert not summary.clean and Summary(1, 0, 1, 1, {}, 0, {}, 0, 1.0, 1).clean


def test_read_options_are_validated() -> None:
    with pytest.raises(LookupError):
        ReadOptions(encoding="no-such-encoding")
    with pytest.raises(ValueError, match="unknown format"):
        ReadOptions(format="docx")


def test_interrupted_input_is_not_counted_and_its_rejects_are_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    inputs = tmp_path / "in"
    jsonl(inputs / "a.jsonl", [{"text": ARTICLE}, "{bad a"])
    jsonl(inputs / "b.jsonl", [{"text": ARTICLE}, "{bad b", {"text": ARTICLE}, {"text": "STOP " + ARTICLE}])
    rejects = tmp_path / "rejects.jsonl"
    interrupt_on("STOP", monkeypatch)
    summary, _ = run([inputs], tmp_path / "out", batch_size=1, rejects=rejects)
    assert summary.interrupted and (summary.files, summary.articles, summary.rejected) == (1, 1, 1)
    assert [json.loads(x)["source"] for x in rejects.read_text().splitlines()] == [str(inputs / "a.jsonl")]


def test_a_write_error_mid_file_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(self: object, record: object, result: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cio._JsonLinesOutput, "write", disk_full)
    feed = jsonl(tmp_path / "in" / "feed.jsonl", [{"text": ARTICLE}])
    with pytest.raises(batch.BatchError, match="cannot write .*feed.jsonl .*No space left on device"):
        run([feed], tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_cleaned_chunk_survives_the_trip_back_from_a_worker_unchanged():
    """Workers send outcomes to the writer pickled; they must arrive as they left, removed paragraphs and all."""
    import pickle

    from tests.conftest import ARTICLE

    outcomes = batch.clean_chunk(None, CleanerConfig(), [("text", ARTICLE), ("text", ARTICLE.upper())])
    assert any(o.removed for o in outcomes)
    back = pickle.loads(pickle.dumps(outcomes, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == outcomes
    assert [type(p) for o in back for p in o.removed] == [type(p) for o in outcomes for p in o.removed]
