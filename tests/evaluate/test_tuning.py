"""Hyper-parameter search: validation only, typed spaces, replayable best config."""

import json

import pytest
from pydantic import ValidationError

from fathom.evaluate.tuning import DEFAULT_SPACES, default_space, load_space, parse_space, tune
from fathom.metrics.evaluator import evaluate_ranking
from fathom.models.ease import EASE, EASEConfig
from fathom.models.registry import get_model_class
from tests.models.conformance import block_data


def test_tune_finds_settings_at_least_as_good_as_a_bad_default_and_replays(tmp_path):
    train, valid = block_data()
    space = parse_space({"reg": {"type": "float", "low": 0.1, "high": 1e5, "log": True}})
    result = tune("ease", train, valid, space, n_trials=12, timeout_s=None, seed=3, log=lambda m: None)
    assert len(result.trials) == 12
    # every trial is recorded with its validation score, and the best one is the maximum of them
    assert result.best_value == max(t["ndcg@10"] for t in result.trials)
    huge = evaluate_ranking(EASE(reg=1e5).fit(train), valid, exclude=(train,))["ndcg@10"]
    assert result.best_value >= huge
    path = result.write(tmp_path / "best.json")
    replayed = EASEConfig.from_file(path)
    assert replayed == result.best_config
    again = evaluate_ranking(EASE(replayed).fit(train), valid, exclude=(train,))["ndcg@10"]
    assert again == pytest.approx(result.best_value)
    log = json.loads(path.with_suffix(".trials.json").read_text())
    assert log["model"] == "ease" and len(log["trials"]) == 12
    # the log says how the search ran: its space (a file load_space reads back) and its seed
    assert log["seed"] == 3 and parse_space(log["space"]) == space


def test_tune_rejects_unknown_settings_and_bad_spaces(tmp_path):
    train, valid = block_data()
    with pytest.raises(KeyError, match="no setting"):
        tune("ease", train, valid, parse_space({"lambda": {"type": "float", "low": 1, "high": 2}}), n_trials=1)
    with pytest.raises(ValidationError, match="low"):
        parse_space({"reg": {"type": "float", "high": 2}})
    bad = tmp_path / "space.toml"
    bad.write_text('[reg]\ntype = "gaussian"\nlow = 1\nhigh = 2\n')
    with pytest.raises(ValidationError):
        load_space(bad)


@pytest.mark.parametrize("model", sorted(DEFAULT_SPACES))
def test_every_default_space_names_settings_of_its_model_and_both_ends_are_valid(model):
    config_class = get_model_class(model).Config
    for name, dist in default_space(model).items():
        assert name in config_class.model_fields, f"{model}: {name}"
        ends = dist.choices if hasattr(dist, "choices") else [dist.low, dist.high]
        for value in ends:
            config_class(**{name: value})  # raises if the model refuses either end of the range
