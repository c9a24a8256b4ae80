"""One row-to-document mapping: a typed catalogue and the same rows read raw from a file give the same documents."""

from __future__ import annotations

import pandas as pd

from fathom.data.records import Catalog
from fathom.online.bootstrap import items_from_catalog
from fathom.retrieval.catalogue import catalogue_documents, rows_to_documents


def test_typed_and_raw_rows_map_to_the_same_documents():
    frame = pd.DataFrame({"item_id": ["1", "2", "3"], "title": ["Toy Story", "Heat", "Alien"],
                          "genres": [["Animation", "Comedy"], ["Crime"], []],
                          "year": [1995.0, float("nan"), 1979.0]})
    typed, fields = catalogue_documents(Catalog(frame, {"genres": "list", "year": "float"}))
    rows = [{"item_id": "1", "title": "Toy Story", "genres": "Animation|Comedy", "year": "1995"},
            {"item_id": "2", "title": "Heat", "genres": "Crime", "year": ""},
            {"item_id": "3", "title": "Alien", "genres": "", "year": 1979}]
    raw = rows_to_documents(rows, ["title"], "item_id")
    assert fields == {"title": 2.0}
    assert [d.model_dump() for d in typed] == [d.model_dump() for d in raw]
    assert typed[0].categorical == {"genres": ["Animation", "Comedy"]} and typed[1].numeric == {}
    # the service's items come from the same documents
    items = {i.item_id: i for i in items_from_catalog(Catalog(frame, {"genres": "list", "year": "float"}))}
    assert items["1"].categorical == {"genres": ["Animation", "Comedy"]} and items["1"].numeric == {"year": 1995.0}
    assert items["3"].categorical == {} and items["2"].title == "Heat"
