"""The estimator contract and the model file: save, load, and every way loading can go wrong."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from sklearn.base import clone

from cleaner.evaluate import fit_pipeline, training_articles
from cleaner.features import rows_for_articles
from cleaner.model import ModelError, build_pipeline, load_model, save_model, shipped_model_path


@pytest.fixture()
def saved(tmp_path, small_pipeline):
    path = tmp_path / "m.joblib"
    save_model(small_pipeline, path, threshold=0.5, training={"articles": 1}, heldout_metrics={"f1": 1.0})
    return path


def test_estimator_contract_clone_and_pickle(small_pipeline, fixture_articles):
    fresh = clone(build_pipeline())
    assert fresh.get_params()["classify__random_state"] == 0
    rows = rows_for_articles([a.paragraphs for a in fixture_articles[:5]])
    again = pickle.loads(pickle.dumps(small_pipeline))
    np.testing.assert_array_equal(again.predict_proba(rows), small_pipeline.predict_proba(rows))
    assert list(small_pipeline.classes_) == ["body", "boilerplate", "promo"]


def test_training_is_deterministic(fixture_articles):
    subset = fixture_articles[::9]
    rows = rows_for_articles([a.paragraphs for a in fixture_articles[1::20]])
    first = fit_pipeline(subset).predict_proba(rows)
    second = fit_pipeline(subset).predict_proba(rows)
    np.testing.assert_array_equal(first, second)


def test_training_adds_a_cleaned_copy_of_each_article(fixture_articles):
    article = next(a for a in fixture_articles if "promo" in a.labels)
    paragraph_lists, labels = training_articles([article])
    assert len(paragraph_lists) == 2
    assert labels[len(article.labels):] == ["body"] * article.labels.count("body")


def test_save_then_load_round_trips_with_sidecar(saved, small_pipeline, fixture_articles):
    pipeline, info = load_model(saved)
    rows = rows_for_articles([a.paragraphs for a in fixture_articles[:3]])
    np.testing.assert_array_equal(pipeline.predict_proba(rows), small_pipeline.predict_proba(rows))
    meta = json.loads(saved.with_suffix(".json").read_text())
    assert info.threshold == 0.5 and meta["labels"] == ["body", "boilerplate", "promo"]
    assert meta["n_features"] == len(meta["feature_names"])
    assert {"cleaner", "scikit-learn", "joblib", "python"} <= set(meta["versions"])


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelError, match=r"model file .*nothing\.joblib not found"):
        load_model(tmp_path / "nothing.joblib")


def test_missing_sidecar(saved):
    saved.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match="sidecar .* not found"):
        load_model(saved)


def test_corrupt_sidecar(saved):
    saved.with_suffix(".json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(saved)


def test_tampered_model_file(saved):
    data = bytearray(saved.read_bytes())
    data[len(data) // 2] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match the checksum"):
        load_model(saved)


def test_incompatible_scikit_learn_version(saved):
    meta_path = saved.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["versions"]["scikit-learn"] = "0.24.2"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="trained with scikit-learn 0.24.2"):
        load_model(saved)


def test_other_format_and_bad_threshold(saved):
    meta_path = saved.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps(dict(meta, format=99)))
    with pytest.raises(ModelError, match="format 99"):
        load_model(saved)
    meta_path.write_text(json.dumps(dict(meta, threshold=7)))
    with pytest.raises(ModelError, match="threshold 7"):
        load_model(saved)
    meta_path.write_text(json.dumps(dict(meta, html_threshold="high")))
    with pytest.raises(ModelError, match="html_threshold 'high'"):
        load_model(saved)


def test_feature_names_must_match(saved):
    meta_path = saved.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps(dict(meta, feature_names_sha256="0" * 64)))
    with pytest.raises(ModelError, match="feature names do not match"):
        load_model(saved)


def test_a_non_model_pickle_is_refused(tmp_path, saved):
    import hashlib

    import joblib

    joblib.dump({"not": "a pipeline"}, saved)
    meta_path = saved.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["model_sha256"] = hashlib.sha256(saved.read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="does not hold a cleaner pipeline"):
        load_model(saved)


def test_shipped_model_loads_and_records_its_training(shipped):
    assert shipped_model_path().is_file()
    assert shipped.info.training["articles"] >= 200
    assert shipped.info.heldout_metrics["scheme"].startswith("publisher styles held out")
    # The page threshold was chosen on the HTML fixtures held out by style, and says so.
    pages = shipped.info.heldout_metrics["html_pages"]
    assert shipped.info.html_threshold == pages["threshold"] and pages["articles"] >= 24
    assert pages["threshold"] in [row["threshold"] for row in pages["sweep"]]
