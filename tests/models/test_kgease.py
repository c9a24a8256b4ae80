"""KG-EASE: conformance (with a stand-in knowledge graph), and known answers: it is TextEASE over the KG vectors
of its entity map, a cold item is scored through its entities, and text joins the graph when given."""

from __future__ import annotations

import numpy as np
import pytest

from fathom.data.kg_vectors import combine, fit_entity_map, project
from fathom.models.kgease import KGEASE
from fathom.models.textease import TextEASE
from tests.models.conformance import RecommenderConformance, block_data, block_item_entities, block_text_vectors


class TestKGEASEConformance(RecommenderConformance):
    model_name = "kgease"
    config = {"reg": 10.0}


def test_it_is_textease_over_the_kg_vectors():
    train, test = block_data()
    ents = block_item_entities(30)
    model = KGEASE(reg=10.0).fit(train, test, item_entities=ents)
    idf, basis = fit_entity_map(ents, 256)
    same = TextEASE(reg=10.0).fit(train, test, item_vectors=project(ents, idf, basis))
    np.testing.assert_allclose(model.score(np.arange(40)), same.score(np.arange(40)), rtol=1e-5, atol=1e-6)


def test_a_cold_item_is_scored_through_its_entities():
    train, test = block_data()
    model = KGEASE(reg=10.0).fit(train, test, item_entities=block_item_entities(30))
    scores = model.score_history(np.array([16, 18, 20, 22]))  # block 1; item 29 never trained, block-1 entities
    assert scores[29] > np.sort(scores[:15])[-1]


def test_text_joins_the_graph_and_new_items_need_both(tmp_path):
    train, test = block_data()
    ents, text = block_item_entities(30), block_text_vectors(30)
    model = KGEASE(reg=10.0, text_share=0.3).fit(train, test, item_entities=ents, item_vectors=text)
    idf, basis = fit_entity_map(ents, 256)
    side = combine([text, project(ents, idf, basis)], weights=[0.3, 0.7])
    same = TextEASE(reg=10.0).fit(train, test, item_vectors=side)
    np.testing.assert_allclose(model.score(np.arange(5)), same.score(np.arange(5)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="text vectors"):
        model.add_items(item_entities=block_item_entities(1))
    new = model.add_items(block_text_vectors(1), item_entities=block_item_entities(1))
    again = KGEASE.load(model.save(tmp_path / "m"))
    assert again.text_dim == 16 and again.n_items == 31 and new.tolist() == [30]
    np.testing.assert_allclose(again.score(np.arange(3)), model.score(np.arange(3)), rtol=1e-5, atol=1e-6)
