"""The featurizer: named columns, neighbour context, and the same matrix whichever way it is built."""

from __future__ import annotations

import numpy as np
import pytest

from cleaner.features import (
    SHAPE_NAMES, Arrangement, ParagraphFeaturizer, _lead_terms, _lowered, _tokenize, _word_terms, neighbour_indices, rows_for_articles,
)
from cleaner.segment import Paragraph

ARTICLE = [
    Paragraph("What Happened: The company said quarterly revenue rose 12% to $4.1 billion."),
    Paragraph("See Also: Three Dividend Stocks To Buy Before The Fed Meets"),
    Paragraph("Did You Know?"),
    Paragraph("Photo: Shutterstock"),
]


@pytest.fixture(scope="module")
def featurizer(fixture_articles):
    return ParagraphFeaturizer().fit(rows_for_articles([a.paragraphs for a in fixture_articles[::5]]))


def _value(featurizer, matrix, row, name):
    names = list(featurizer.get_feature_names_out())
    return matrix[row, names.index(name)]


def test_every_column_is_named_and_context_flags_come_first(featurizer):
    matrix = featurizer.transform(rows_for_articles([ARTICLE]))
    names = featurizer.get_feature_names_out()
    assert matrix.shape[1] == len(names) == len(set(names))
    assert list(names[:2]) == ["ctx:has_prev", "ctx:has_next"]
    assert matrix[:, 0].toarray().ravel().tolist() == [0, 1, 1, 1]
    assert matrix[:, 1].toarray().ravel().tolist() == [1, 1, 1, 0]


def test_shape_features_see_lead_ins_questions_and_title_case(featurizer):
    matrix = featurizer.transform(rows_for_articles([ARTICLE]))
    assert _value(featurizer, matrix, 0, "shape:lead_in") == 1
    assert _value(featurizer, matrix, 1, "shape:lead_in") == 1
    assert _value(featurizer, matrix, 2, "shape:ends_question") == 1
    assert _value(featurizer, matrix, 1, "shape:title_ratio") > 0.9
    assert _value(featurizer, matrix, 0, "shape:title_ratio") < 0.5


def test_neighbour_blocks_carry_the_neighbours_shape(featurizer):
    matrix = featurizer.transform(rows_for_articles([ARTICLE]))
    # "Did You Know?" sees its neighbours: the See Also headline before, the credit after.
    assert _value(featurizer, matrix, 2, "prev:shape:title_ratio") == _value(featurizer, matrix, 1, "shape:title_ratio")
    assert _value(featurizer, matrix, 2, "next:shape:log_chars") == _value(featurizer, matrix, 3, "shape:log_chars")
    assert _value(featurizer, matrix, 0, "prev:shape:log_chars") == 0


def test_articles_do_not_leak_into_each_other(featurizer):
    rows = rows_for_articles([ARTICLE[:2], ARTICLE[2:]])
    prev, nxt = neighbour_indices(rows)
    assert prev.tolist() == [-1, 0, -1, 2]
    assert nxt.tolist() == [1, -1, 3, -1]


def test_an_arrangement_from_article_lengths_is_the_one_its_rows_give():
    # The cleaner's rounds arrange survivors by article lengths alone; it must be what rows would say.
    articles = [ARTICLE, ARTICLE[:1], ARTICLE[1:3], ARTICLE]
    from_rows = Arrangement.of_rows(rows_for_articles(articles))
    from_lengths = Arrangement.of_lengths([len(a) for a in articles])
    assert from_lengths.position.tolist() == from_rows.position.tolist() == [0, 1, 2, 3, 0, 0, 1, 0, 1, 2, 3]
    assert from_lengths.count.tolist() == from_rows.count.tolist()
    assert [a.tolist() for a in from_lengths.neighbours()] == [a.tolist() for a in from_rows.neighbours()]
    assert Arrangement.of_lengths([]).neighbours()[0].tolist() == []


def test_own_then_assemble_equals_transform(featurizer):
    rows = rows_for_articles([ARTICLE, ARTICLE[1:]])
    own = featurizer.own([r.paragraph for r in rows])
    direct = featurizer.transform(rows)
    assert (featurizer.assemble(own, rows) != direct).nnz == 0
    subset = np.asarray([0, 2, 3])
    rows_subset = rows_for_articles([[ARTICLE[0], ARTICLE[2], ARTICLE[3]]])
    assert (featurizer.assemble(own.take(subset), rows_subset) != featurizer.transform(rows_subset)).nnz == 0


def test_own_matrix_is_the_first_pass_columns_of_the_full_matrix(featurizer, small_pipeline):
    """The cleaner scores the first pass once per paragraph from ``own_matrix``; it must be exactly the
    columns the classifier reads from the full matrix, or rounds would score differently from fitting."""
    rows = rows_for_articles([ARTICLE, ARTICLE[1:]])
    features = small_pipeline.named_steps["features"]
    classifier = small_pipeline.named_steps["classify"]
    full = features.transform(rows)
    own = features.own([r.paragraph for r in rows])
    columns = classifier.first_pass_columns(full.shape[1])
    assert (features.own_matrix(own) != full[:, columns]).nnz == 0
    dense = features.assemble_dense(own, np.arange(len(rows)), Arrangement.of_rows(rows))
    two_passes = classifier.second_pass(dense, classifier.first_pass(features.own_matrix(own)))
    assert np.allclose(two_passes, small_pipeline.predict_proba(rows))


def test_html_fields_fill_html_columns_only_for_html(featurizer):
    text_row = rows_for_articles([[Paragraph("Share this article")]])
    html_row = rows_for_articles([[Paragraph("Share this article", tag="li", link_density=1.0, container="share-bar social")]])
    assert _value(featurizer, featurizer.transform(text_row), 0, "html:is_html") == 0
    html = featurizer.transform(html_row)
    assert _value(featurizer, html, 0, "html:link_density") == 1
    assert _value(featurizer, html, 0, "html:tag=li") == 1
    assert _value(featurizer, html, 0, "html:container=share") == 1


def test_empty_input_gives_an_empty_matrix(featurizer):
    assert featurizer.transform([]).shape == (0, len(featurizer.get_feature_names_out()))


def test_shape_names_are_unique():
    assert len(SHAPE_NAMES) == len(set(SHAPE_NAMES))


def test_tokens_are_lowered_as_one_by_one_including_empty_paragraphs_and_greek_final_sigma():
    # The featurizer lower-cases all tokens in one call; it must match per-token lower-casing, which
    # the trained vocabularies were built with (final sigma depends on the token's end, not a neighbour's).
    tokens = [["See", "Also", ":"], [], ["ΟΔΟΣ", "ΣΟΦΙΑ"], ["İstanbul", "CEO's"], []]
    assert _lowered(tokens) == [[t.lower() for t in ts] for ts in tokens]
    assert _lowered([[], []]) == [[], []]
    assert _lowered([]) == []


def test_a_pickled_featurizer_comes_back_identical_and_the_original_keeps_its_names(featurizer, fixture_articles):
    """The featurizer pickles its vocabularies compactly (the model then loads in a fraction of the time);
    what comes back must featurize exactly as before, and pickling must not strip the original."""
    import pickle

    rows = rows_for_articles([a.paragraphs for a in fixture_articles[:40]])
    names = featurizer.get_feature_names_out().copy()
    restored = pickle.loads(pickle.dumps(featurizer))
    assert np.array_equal(featurizer.get_feature_names_out(), names)
    assert np.array_equal(restored.get_feature_names_out(), names)
    assert restored.words_.index == featurizer.words_.index and restored.lead_.index == featurizer.lead_.index
    assert (restored.transform(rows) != featurizer.transform(rows)).nnz == 0


def test_a_featurizer_pickled_the_old_way_still_loads(featurizer, fixture_articles):
    """Models saved before the compact form pickled every attribute as is; they must load unchanged."""
    from cleaner.features import _Vocabulary

    old = ParagraphFeaturizer.__new__(ParagraphFeaturizer)
    state = dict(featurizer.__dict__)
    for name in ("words_", "lead_"):
        vocabulary = _Vocabulary.__new__(_Vocabulary)
        vocabulary.__setstate__(dict(getattr(featurizer, name).__dict__))  # terms, index, idf as attributes
        state[name] = vocabulary
    old.__setstate__(state)
    rows = rows_for_articles([a.paragraphs for a in fixture_articles[:40]])
    assert np.array_equal(old.get_feature_names_out(), featurizer.get_feature_names_out())
    assert (old.transform(rows) != featurizer.transform(rows)).nnz == 0


ODD = [
    Paragraph("—"), Paragraph("İSTANBUL: Şirket Açıklama Yaptı, dedi Ümit Öztürk."), Paragraph("中文 测试 ABC"),
    Paragraph("Follow @AcmeNews and write to tips@acme.example!"), Paragraph("© 2026 Acme Media (c) all rights"),
    Paragraph("½ cup of ² and Ⅻ"), Paragraph("ǅemal Ǆ told The Courier | Photo: AP"), Paragraph(""),
    Paragraph("İİİİİİİİİİİİİİİİİİİİİİİİİİİİİİ opening longer once lower-cased"), Paragraph("x\udcff y"),
]


def test_a_paragraphs_features_do_not_depend_on_the_rest_of_the_batch(featurizer):
    # The shape and overlap features are computed column by column over a whole batch (one flat table of
    # every paragraph's tokens); a paragraph must come out as it would alone, wherever it sits.
    odd = ODD
    batch = ARTICLE + odd
    together = featurizer.transform(rows_for_articles([batch]))
    alone = [featurizer.transform(rows_for_articles([[p]])) for p in batch]
    own_columns = [i for i, n in enumerate(featurizer.get_feature_names_out()) if n.startswith(("shape:", "html:", "word:", "lead:"))]
    for row, single in enumerate(alone):
        assert np.array_equal(together[row, own_columns].toarray(), single[0, own_columns].toarray()), batch[row].text
    # The word-overlap features of an article do not change when other articles share the batch.
    first = featurizer.transform(rows_for_articles([ARTICLE]))
    both = featurizer.transform(rows_for_articles([ARTICLE, odd]))
    overlap = [list(featurizer.get_feature_names_out()).index(f"article:{n}") for n in ("overlap", "overlap_names")]
    assert np.array_equal(first[:, overlap].toarray(), both[: len(ARTICLE), overlap].toarray())


def test_lead_and_word_terms_are_found_at_inference_as_training_spells_them(featurizer, fixture_articles):
    # Training builds the vocabularies from term strings (_lead_terms, _word_terms); inference finds the
    # same terms as numbers in numpy. Both must give the same matrix, or the model sees other features.
    paragraphs = [p for a in fixture_articles[::7] for p in a.paragraphs] + ODD
    texts = [p.text for p in paragraphs]
    lowered = _lowered(_tokenize(texts))
    own = featurizer.own(paragraphs)
    lead = featurizer.lead_.transform([_lead_terms(x, t) for x, t in zip(texts, lowered)])
    words = featurizer.words_.transform([_word_terms(t) for t in lowered])
    assert lead.nnz > 10 * len(paragraphs) and words.nnz > 10 * len(paragraphs)
    assert (own.lead != lead).nnz == 0 and (own.words != words).nnz == 0
