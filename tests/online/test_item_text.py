"""Item text in the service: how a catalogue record reads, and the vectors of items with and without a record."""

from __future__ import annotations

import numpy as np

from fathom.online.item_text import catalogue_vectors, record_text
from fathom.online.records import ItemRecord
from fathom.online.store import Store
from fathom.text.encoders import Encoder
from fathom.text.item_text import TextTemplate

RECORD = ItemRecord(item_id="a1", title="Arrow T50 staples", description="Heavy duty, 1/2 inch.",
                    categorical={"brand": ["Arrow"], "colour": ["silver", "grey"]}, numeric={"pack": 1000.0})


class CountingEncoder(Encoder):
    """Stand-in encoder: a text's vector counts its characters 'a', 'e', 'o' (so equal texts give equal rows)."""

    name, dim = "counting", 3

    def _encode_batch(self, texts, kind):
        return np.array([[t.count("a") + 1, t.count("e"), t.count("o")] for t in texts], np.float32)


def test_a_record_reads_title_attributes_numbers_then_description():
    assert record_text(RECORD) == ("title: Arrow T50 staples; brand: Arrow; colour: silver, grey; pack: 1000; "
                                   "description: Heavy duty, 1/2 inch.")
    # the template a model was trained with (e.g. by fathom train) decides when it is known
    assert record_text(RECORD, TextTemplate(fields=("title", "brand"), labels=False)) == "Arrow T50 staples; Arrow"


def test_catalogue_vectors_leave_items_without_a_record_at_zero(tmp_path):
    store = Store(tmp_path / "data")
    try:
        store.upsert_items([RECORD])
        vectors = catalogue_vectors(store, ["a1", "ghost"], CountingEncoder())
        expected = CountingEncoder().encode([record_text(RECORD)])[0]
        np.testing.assert_allclose(vectors[0], expected, rtol=1e-6)
        assert vectors.shape == (2, 3) and not vectors[1].any()
    finally:
        store.close()
