"""Side features built from user / item tables: vocabularies, multi-hot genres, year buckets, persistence."""

import numpy as np
import pandas as pd
import pytest

from fathom.data.features import (
    MISSING,
    FeatureConfig,
    SideFeatures,
    bucket,
    build_side_features,
    features_from_prepared,
)
from fathom.data.records import Catalog, UserTable


def tiny_tables() -> tuple[UserTable, Catalog]:
    users = UserTable(
        pd.DataFrame({
            "user_id": ["u0", "u1", "u2"],
            "age": [25.0, 18.0, np.nan],
            "gender": ["F", "M", ""],
            "occupation": ["7", "12", "7"],
        }),
        {"age": "float", "gender": "category", "occupation": "category"},
    )
    items = Catalog(
        pd.DataFrame({
            "item_id": ["a", "b", "c", "d"],
            "title": ["A", "B", "C", "D"],
            "genres": [["Comedy", "Drama"], ["Action"], [], ["Drama", "Comedy", "Drama"]],
            "release_year": [1995.0, 1999.0, np.nan, 2000.0],
        }),
        {"genres": "list", "release_year": "float"},
    )
    return users, items


def build(width: float = 5.0) -> SideFeatures:
    users, items = tiny_tables()
    config = FeatureConfig(bucket_width={"release_year": width})
    return build_side_features(users, items, 3, 4, config)


def test_single_valued_user_fields_are_sorted_vocabularies_with_missing_as_zero():
    f = build()
    age = f.get("user", "age")
    assert age.vocab == ("18", "25")  # numeric order, NaN -> 0
    assert age.codes.tolist() == [2, 1, 0]
    gender = f.get("user", "gender")
    assert gender.vocab == ("F", "M") and gender.codes.tolist() == [1, 2, 0]
    assert f.get("user", "occupation").codes.tolist() == [2, 1, 2]  # "12" < "7" as strings
    assert gender.decode(2) == [MISSING]


def test_genres_are_multi_hot_padded_and_deduplicated():
    genres = build().get("item", "genres")
    assert genres.multi and genres.vocab == ("Action", "Comedy", "Drama")
    assert genres.codes.tolist() == [[2, 3], [1, 0], [0, 0], [3, 2]]  # item d's repeated Drama kept once
    assert genres.decode(0) == ["Comedy", "Drama"] and genres.decode(2) == [MISSING]


def test_release_years_are_bucketed():
    years = build(5.0).get("item", "release_year")
    assert years.vocab == ("1995", "2000")
    assert years.codes.tolist() == [1, 1, 0, 2]  # 1995 and 1999 share the 1995 bucket
    assert build(1.0).get("item", "release_year").vocab == ("1995", "1999", "2000")
    np.testing.assert_array_equal(bucket(np.array([1969.0, 1970.0, np.nan]), 10.0), [1960.0, 1970.0, np.nan])


def test_round_trips_through_arrays_and_a_folder(tmp_path):
    f = build()
    again = SideFeatures.from_arrays(f.spec(), f.to_arrays())
    loaded = SideFeatures.load(f.save(tmp_path / "feat"))
    for other in (again, loaded):
        assert [(x.side, x.name, x.vocab, x.multi) for x in other.fields] == \
            [(x.side, x.name, x.vocab, x.multi) for x in f.fields]
        for x, y in zip(other.fields, f.fields, strict=True):
            np.testing.assert_array_equal(x.codes, y.codes)


def test_unknown_column_and_wrong_sizes_are_errors():
    users, items = tiny_tables()
    with pytest.raises(KeyError, match="zip"):
        build_side_features(users, items, 3, 4, FeatureConfig(user_fields=("zip",)))
    with pytest.raises(ValueError, match="rows"):
        build_side_features(users, items, 5, 4)
    with pytest.raises(ValueError, match="no user table"):
        build_side_features(None, items, 3, 4)
    assert len(build_side_features(None, items, 3, 4, FeatureConfig(user_fields=())).of("user")) == 0


def test_features_follow_the_prepared_indices():
    from fathom.data.dataset import Dataset
    from fathom.data.prepare import PrepareConfig, prepare
    from fathom.data.records import EventTable

    users, items = tiny_tables()
    events = EventTable.from_frame(pd.DataFrame({"user_id": ["u2", "u0", "u1"], "item_id": ["d", "a", "d"]}))
    prepared = prepare(Dataset("tiny", events, items, users), PrepareConfig(ratios=(1.0, 0.0)))
    f = features_from_prepared(prepared, FeatureConfig(bucket_width={"release_year": 5.0}))
    assert (f.n_users, f.n_items) == (3, 2)
    # user index 0 is u2 (first seen), item index 0 is d
    assert f.get("user", "gender").decode(0) == [MISSING] and f.get("user", "gender").decode(1) == ["F"]
    assert sorted(f.get("item", "genres").decode(0)) == ["Comedy", "Drama"]
    assert f.get("item", "release_year").decode(0) == ["2000"]
