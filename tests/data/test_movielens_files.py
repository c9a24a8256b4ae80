"""The generic loaders on files shaped like MovieLens latest-small: column hints, an unmapped rating column, NA in
number columns, pipe-joined genres, and which ratings the data-file preset keeps."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from fathom.data.cleaning import rating_midpoint
from fathom.data.dataset import Dataset
from fathom.data.loading import DataWarning, LoadConfig, UnmappedColumnWarning, load_catalog, load_events, load_users
from fathom.data.prepare import PrepareConfig, prepare
from fathom.data.validation import MissingColumnError
from tests.data.movielens_files import write_movielens

IDS = {"userId": "user_id", "movieId": "item_id"}


@pytest.fixture
def ml(tmp_path):
    return write_movielens(tmp_path)


# ------------------------------------------------------------------------------------------- column hints


def test_a_missing_column_hint_is_python_for_the_api_and_the_option_for_the_cli(ml):
    with pytest.raises(MissingColumnError) as err:
        load_events(ml["ratings"])
    exc = err.value
    assert (exc.column, exc.suggestion) == ("user_id", "userId")
    assert "(map it with columns={'userId': 'user_id'})" in str(exc)
    cli = str(exc.for_cli())
    assert cli.splitlines()[0].endswith("(map it with --map userId=user_id)") and "columns=" not in cli
    assert "(map it with --catalog-map userId=user_id)" in str(exc.for_cli("--catalog-map"))


def test_the_hint_guesses_the_usual_names_and_skips_mapped_columns(ml, tmp_path):
    with pytest.raises(MissingColumnError) as err:  # movieId is the item id though no name matches
        load_events(ml["ratings"], columns={"userId": "user_id"})
    assert err.value.suggestion == "movieId" and "columns={'movieId': 'item_id'}" in str(err.value)
    with pytest.raises(MissingColumnError) as err:
        load_catalog(ml["movies"])
    assert "columns={'movieId': 'item_id'}" in str(err.value)
    odd = tmp_path / "odd.csv"
    odd.write_text("who,what\nu,i\n")
    with pytest.raises(MissingColumnError) as err:
        load_events(odd)
    assert err.value.suggestion is None
    assert "(map a file column onto it with columns={'COLUMN': 'user_id'})" in str(err.value)
    assert "(map a file column onto it with --map COLUMN=user_id)" in str(err.value.for_cli())


# ------------------------------------------------------------------------------------ unmapped rating column


def test_an_unmapped_rating_column_is_noted_with_the_mapping_to_use(ml):
    with pytest.warns(UnmappedColumnWarning) as caught:
        result = load_events(ml["ratings"], columns=IDS)
    (note,) = result.report.unmapped
    assert (note.column, note.target) == ("rating", "value")
    message = str(caught[0].message)
    assert message == (f"{ml['ratings']}: column 'rating' looks like ratings but is not mapped, so every row counts "
                       "as a click of value 1; map it with columns={'rating': 'value'}")
    assert note.message("cli").endswith("map it with --map rating=value")
    frame = result.table.frame
    assert set(frame["event"]) == {"click"} and set(frame["value"]) == {1.0}  # what the note warns about

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # mapped: no note
        mapped = load_events(ml["ratings"], columns={**IDS, "rating": "value"})
    assert mapped.report.unmapped == [] and set(mapped.table.frame["event"]) == {"rating"}
    assert sorted(set(mapped.table.frame["value"])) == list(np.arange(1, 11) / 2)


def test_only_a_numeric_column_named_like_ratings_gets_the_note(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("user_id,item_id,event,score,stars_text\nu,i,view,0.7,\nv,j,view,NA,\n")
    with pytest.warns(UnmappedColumnWarning, match="'score' looks like ratings .* every row has value 1"):
        load_events(path)  # an event column: only the value is lost
    path.write_text("user_id,item_id,stars\nu,i,five\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_events(path).report.unmapped == []  # not numbers


# ------------------------------------------------------------------------------------------ NA in numbers


def test_na_null_and_blank_are_missing_numbers_not_text(ml):
    result = load_catalog(ml["movies"], columns={"movieId": "item_id"})
    frame, schema = result.table.frame, result.table.schema
    assert schema["year"] == "float" and frame["year"].dtype == np.float64
    missing = frame.loc[frame["year"].isna(), "item_id"].tolist()
    assert missing == ["9", "18", "27", "36"]  # N/A, null, blank and NA
    assert frame.loc[frame["item_id"] == "10", "year"].item() == 1990.0
    assert result.report.ok  # an optional column: missing silently


def test_na_in_a_required_number_is_a_missing_value_per_row(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("user_id,item_id,value,timestamp\nu1,i1,4,5\nu2,i2,NA,6\nu3,i3,null,N/A\nu4,i4,n/a,7\n")
    with pytest.warns(DataWarning, match="4 problem"):
        result = load_events(path, on_error="skip")
    problems = [(p.row, p.column, p.reason) for p in result.report]
    assert problems == [(2, "value", "missing value"), (3, "value", "missing value"),
                        (3, "timestamp", "missing timestamp"), (4, "value", "missing value")]
    assert result.report.problems_per_column() == {"value": 3, "timestamp": 1}
    assert result.table.frame["user_id"].tolist() == ["u1"]


def test_na_is_still_a_value_in_id_and_text_columns(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("user_id,nickname\nNA,NA\nu2,Null\n")
    frame = load_users(path).table.frame
    assert frame["user_id"].tolist() == ["NA", "u2"] and frame["nickname"].tolist() == ["NA", "Null"]


# ------------------------------------------------------------------------------------------- pipe lists


def test_pipe_joined_genres_load_as_a_list_column(ml):
    table = load_catalog(ml["movies"], columns={"movieId": "item_id"}).table
    assert table.schema["genres"] == "list" and table.schema["title"] == "text"
    frame = table.frame.set_index("item_id")
    assert frame.loc["1", "genres"] == ["Comedy", "Romance"]
    assert frame.loc["2", "genres"] == ["Horror"]  # one genre: a list of one
    assert frame.loc["1", "title"] == "Movie 1, The (1981)"  # a quoted comma is no separator


@pytest.mark.parametrize(
    ("cells", "kind"),
    [
        (["Comedy|Drama", "Drama", "Horror|Thriller", "Drama"], "list"),  # half hold the separator
        (["Comedy|Drama", "Drama", "Horror", "Drama"], "text"),  # a quarter: a stray |
        (["see https://example.org/a|b " + "x" * 60, "Drama|Comedy", "a|b"], "text"),  # a long part: free text
        (["Comedy", "Drama", "", ""], "text"),
    ],
)
def test_a_list_needs_a_third_of_the_cells_joined_and_short_parts(tmp_path, cells, kind):
    path = tmp_path / "items.csv"
    pd.DataFrame({"item_id": [f"i{n}" for n in range(len(cells))], "tags": cells}).to_csv(path, index=False)
    assert load_catalog(path).table.schema["tags"] == kind


def test_declared_kinds_win_and_event_files_never_guess_lists(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item_id,genres\na,Comedy|Drama\nb,Horror|Drama\n")
    assert load_catalog(path, kinds={"genres": "text"}).table.frame["genres"].tolist() == ["Comedy|Drama",
                                                                                          "Horror|Drama"]
    events = tmp_path / "e.csv"
    events.write_text("user_id,item_id,path\nu,a,x|y\nv,b,y|z\n")
    assert load_events(events).table.schema["path"] == "text"


# ------------------------------------------------------------------------------------- ratings as positives


@pytest.mark.parametrize(
    ("ratings", "midpoint"),
    [([1, 2, 3, 4, 5], 3.0), ([0.5, 3, 5], 2.75), ([3, 4, 5], 3.0), ([1, 7, 10], 5.5), ([0, 1], 0.5), ([], None)],
)
def test_rating_midpoint_is_the_middle_of_the_scale(ratings, midpoint):
    assert rating_midpoint(np.array(ratings, dtype=float)) == midpoint


def test_the_midpoint_threshold_drops_low_ratings_and_is_resolved_in_the_result(ml):
    dataset = Dataset.from_files(ml["ratings"], name="ml", events_config=LoadConfig(columns={**IDS, "rating": "value"}))
    values = dataset.events.frame["value"]
    prepared = prepare(dataset, PrepareConfig(min_rating="midpoint"))
    assert prepared.config.min_rating == 2.75
    assert prepared.stats["removed_below_min_rating"] == int((values < 2.75).sum()) == 120  # 2 per user
    kept = np.concatenate([p.value for p in (prepared.train, prepared.valid, prepared.test)])
    assert kept.min() == 3.0
    assert PrepareConfig.from_json(PrepareConfig(min_rating="midpoint").to_json()).min_rating == "midpoint"

    with pytest.warns(UnmappedColumnWarning):
        clicks = Dataset.from_files(ml["ratings"], name="ml", events_config=LoadConfig(columns=IDS))
    prepared = prepare(clicks, PrepareConfig(min_rating="midpoint"))  # no rating events: nothing to threshold
    assert prepared.config.min_rating is None and "removed_below_min_rating" not in prepared.stats
