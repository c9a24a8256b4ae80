"""The conformance suite every Recommender passes.

A model's test class inherits :class:`RecommenderConformance` and sets ``model_name`` and ``config`` (small settings
that train in seconds). The suite checks the contract in ``fathom.models.base`` with known answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from fathom.data.interactions import Interactions
from fathom.models.base import NotFittedError, Recommender
from fathom.models.registry import get_model_class
from tests.fresh import run_fresh

N_USERS, N_ITEMS, BLOCK = 40, 30, 15


def block_data(seed: int = 0) -> tuple[Interactions, Interactions]:
    """Two communities: users 0-19 like items 0-14, users 20-39 like items 15-29.

    Each user has 10 of their block's 15 items in train and one more held out (the known answer: a good model ranks
    held-out in-block items above every out-of-block item). Item 29 is never seen in training.
    """
    rng = np.random.default_rng(seed)
    users, items, held_u, held_i = [], [], [], []
    for u in range(N_USERS):
        block = np.arange(BLOCK) if u < N_USERS // 2 else np.arange(BLOCK, 2 * BLOCK - 1)
        chosen = rng.permutation(block)[:11]
        users += [u] * 10
        items += list(chosen[:10])
        held_u.append(u)
        held_i.append(chosen[10])
    train = Interactions.from_arrays(np.array(users), np.array(items), N_USERS, N_ITEMS)
    test = Interactions.from_arrays(np.array(held_u), np.array(held_i), N_USERS, N_ITEMS)
    return train, test


def block_text_vectors(n_items: int, dim: int = 16, seed: int = 1) -> np.ndarray:
    """Stand-in item text vectors for text-aware models: items of block 0 (ids < 15) point near one direction,
    the others near another, with noise; unit rows (n_items, dim) float32."""
    rng = np.random.default_rng(seed)
    v = rng.normal(0, 0.15, (n_items, dim))
    v[:, 0] += np.arange(n_items) < BLOCK
    v[:, 1] += np.arange(n_items) >= BLOCK
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def block_item_entities(n_items: int, seed: int = 2):
    """Stand-in item-entity matrix for KG-aware models: entities 0-3 belong to block 0 (ids < 15), 4-7 to block
    1; each item links to two of its block's entities (an (n_items, 8) 0/1 CSR), item 29 too (never trained on);
    items past the catalogue (ids >= 30, a grown catalogue) link to none, so the graph of the first 30 is unchanged."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for i in range(min(n_items, N_ITEMS)):
        base = 0 if i < BLOCK else 4
        for e in rng.choice(4, size=2, replace=False):
            rows.append(i), cols.append(base + int(e))
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_items, 8))


class RecommenderConformance:
    model_name: ClassVar[str]
    config: ClassVar[dict[str, Any]] = {}
    # models that cannot tell communities apart (popularity) set this False
    personalised: ClassVar[bool] = True

    @pytest.fixture(scope="class")
    @classmethod
    def data(cls) -> tuple[Interactions, Interactions]:
        return block_data()

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls, data) -> Recommender:
        train, test = data
        return get_model_class(cls.model_name)(**cls.config).fit(train, test, **cls.fit_kwargs(N_ITEMS))

    @classmethod
    def fit_kwargs(cls, n_items: int) -> dict[str, Any]:
        """Extra arguments of ``fit``: text-aware models get stand-in item text vectors, KG-aware models a stand-in
        item-entity matrix."""
        model = get_model_class(cls.model_name)
        out: dict[str, Any] = {"item_vectors": block_text_vectors(n_items)} if model.reads_item_text else {}
        if model.reads_item_graph:
            out["item_entities"] = block_item_entities(n_items)
        return out

    def test_registry_name_matches(self):
        assert get_model_class(self.model_name).name == self.model_name

    def test_unfitted_model_refuses_to_score(self):
        with pytest.raises(NotFittedError):
            get_model_class(self.model_name)(**self.config).score(np.array([0]))

    def test_config_is_typed_and_round_trips(self):
        cls = get_model_class(self.model_name)
        model = cls(**self.config)
        again = cls.Config.from_json(model.config.to_json())
        assert again == model.config
        with pytest.raises(ValueError):
            cls.Config.from_dict({"no_such_setting": 1})

    def test_score_shape_and_dtype(self, model):
        scores = model.score(np.arange(5))
        assert scores.shape == (5, N_ITEMS)
        assert scores.dtype == np.float32
        assert np.isfinite(scores).all()

    def test_score_pairs_matches_score(self, model):
        users = np.array([0, 3, 3, 25, 39])
        items = np.array([1, 2, 20, 29, 0])
        full = model.score(np.unique(users))
        row = {u: r for r, u in enumerate(np.unique(users))}
        expected = np.array([full[row[u], i] for u, i in zip(users, items, strict=True)])
        np.testing.assert_allclose(model.score_pairs(users, items), expected, rtol=1e-5, atol=1e-6)

    def test_bad_ids_are_rejected(self, model):
        with pytest.raises(IndexError, match="user id 40"):
            model.score(np.array([0, N_USERS]))
        with pytest.raises(IndexError, match="item id -1"):
            model.similar_items(np.array([-1]))

    def test_recommend_is_sorted_and_excludes(self, model, data):
        train, _ = data
        users = np.arange(N_USERS)
        ids, scores = model.recommend(users, k=5, exclude=train)
        assert ids.shape == (N_USERS, 5) and scores.shape == (N_USERS, 5)
        assert (np.diff(scores, axis=1) <= 0).all()
        seen = train.csr()
        for u in users:
            assert not seen[u, ids[u]].toarray().any(), f"user {u} was recommended a training item"
        full = model.score(users)
        np.testing.assert_allclose(np.take_along_axis(full, ids, axis=1), scores, rtol=1e-5)
        # several exclusions at once, as the evaluator takes them: (train, test)
        _, test = data
        both, _ = model.recommend(users, k=5, exclude=(train, test))
        held = test.csr()
        for u in users:
            assert not (seen[u, both[u]].toarray().any() or held[u, both[u]].toarray().any())

    def test_recommend_respects_candidates_and_pads(self, model):
        ids, scores = model.recommend(np.array([0, 1]), k=4, candidates=np.array([3, 7, 11]))
        assert set(ids[:, :3].ravel()) <= {3, 7, 11}
        assert (ids[:, 3] == -1).all() and np.isneginf(scores[:, 3]).all()

    def test_learns_the_communities(self, model, data):
        if not self.personalised:
            pytest.skip("not a personalised model")
        train, test = data
        ids, _ = model.recommend(np.arange(N_USERS), k=4, exclude=train)
        in_block = np.where(np.arange(N_USERS)[:, None] < N_USERS // 2, ids < BLOCK, ids >= BLOCK)
        assert in_block.mean() >= 0.9
        hit = (ids == test.item[:, None]).any(axis=1)  # 4 of the 4-5 unseen in-block items
        assert hit.mean() >= 0.7

    def test_similar_items(self, model):
        ids, scores = model.similar_items(np.array([0, 20]), k=5)
        assert ids.shape == (2, 5)
        assert 0 not in ids[0] and 20 not in ids[1]
        assert (np.diff(scores, axis=1) <= 0).all()
        if self.personalised:
            assert (ids[0][ids[0] >= 0] < BLOCK).mean() >= 0.8
            assert (ids[1][ids[1] >= 0] >= BLOCK).mean() >= 0.8

    def test_score_history_serves_a_user_from_their_current_history(self, model, data):
        """A user the model never saw, with a history in one block, is served from that block; a trained user
        with their own history gets the model's scores; an empty history gives the popularity passed in."""
        train, _ = data
        pop = np.arange(N_ITEMS, dtype=np.float32)
        np.testing.assert_array_equal(model.score_history(np.array([], dtype=np.int64), popularity=pop), pop)
        history = np.array([3, 7, 1, 9, 5])  # block 0, most recent first
        scores = model.score_history(history, popularity=pop)
        assert scores.shape == (N_ITEMS,) and scores.dtype == np.float32
        if self.personalised:
            rest = np.setdiff1d(np.arange(N_ITEMS - 1), history)  # item 29 never trained on
            top = rest[np.argsort(-scores[rest], kind="stable")[:5]]
            assert (top < BLOCK).mean() >= 0.8, top
        own = train.csr()[0].indices[::-1]
        if model.explanation == "because":  # scored from the user's own representation, or exactly (linear)
            np.testing.assert_allclose(model.score_history(own, user=0), model.score(np.array([0]))[0],
                                       rtol=1e-4, atol=1e-5)
        with pytest.raises(IndexError):
            model.score_history(np.array([N_ITEMS]))

    def test_explain_names_history_items(self, model):
        history = np.array([3, 7, 20])  # most recent first
        items = np.array([1, 2, 25, 26])
        sources = model.explain(history, items)
        assert len(sources) == len(items) and all(s is None or s in history for s in sources)
        if model.explanation == "next":
            assert sources == [3] * len(items)  # every prediction comes after the latest item
        elif self.personalised and (model.item_item_weights() is not None or model.item_vectors() is not None):
            assert sources[0] in (3, 7) and sources[2] in (20, None)  # a block-0 item is explained by block 0
        assert model.explain(np.array([], dtype=np.int64), items) == [None] * len(items)

    def test_add_items_scores_new_items_from_their_text(self, model, data, tmp_path: Path):
        """Text-aware models score an item added after training from its text vector alone: two new items whose
        text is like block 0's rank above every block-1 item for a block-0 history, and survive save / load.
        Other models refuse, saying so."""
        import copy

        if not model.reads_item_text:
            if model.reads_item_graph:
                pytest.skip("a KG-aware model: test_add_items_places_new_items_through_their_entities")
            with pytest.raises(NotImplementedError, match="item text"):
                copy.deepcopy(model).add_items(np.zeros((1, 16), np.float32))
            return
        grown = copy.deepcopy(model)
        extra = block_text_vectors(N_ITEMS + 2, seed=7)[[0, 1]]  # two block-0-like texts
        new = grown.add_items(extra)
        assert new.tolist() == [N_ITEMS, N_ITEMS + 1] and grown.n_items == N_ITEMS + 2
        assert grown.score(np.arange(3)).shape == (3, N_ITEMS + 2)
        np.testing.assert_allclose(grown.score(np.arange(3))[:, :N_ITEMS], model.score(np.arange(3)),
                                   rtol=1e-4, atol=1e-5)  # old items keep their scores
        scores = grown.score_history(np.array([3, 7, 1, 9, 5]))
        assert scores[new].min() > np.sort(scores[BLOCK:N_ITEMS])[-3], "new block-0 items rank with block 0"
        again = type(model).load(grown.save(tmp_path / "grown"))
        np.testing.assert_allclose(again.score(np.arange(3)), grown.score(np.arange(3)), rtol=1e-5, atol=1e-6)
        with pytest.raises(ValueError, match="columns"):
            grown.add_items(np.zeros((1, 3), np.float32))

    def test_add_items_places_new_items_through_their_entities(self, model, tmp_path: Path):
        """KG-aware models score an item added after training from its entities alone: two new items linked to
        block 0's entities rank above every block-1 item for a block-0 history, old items keep their scores, and
        the grown model survives save / load. Other models refuse, saying so."""
        import copy

        if not model.reads_item_graph:
            with pytest.raises((NotImplementedError, ValueError)):
                copy.deepcopy(model).add_items(item_entities=block_item_entities(2))
            return
        grown = copy.deepcopy(model)
        new = grown.add_items(item_entities=block_item_entities(2))  # rows 0-1: block-0 entities
        assert new.tolist() == [N_ITEMS, N_ITEMS + 1] and grown.n_items == N_ITEMS + 2
        np.testing.assert_allclose(grown.score(np.arange(3))[:, :N_ITEMS], model.score(np.arange(3)),
                                   rtol=1e-4, atol=1e-5)
        scores = grown.score_history(np.array([3, 7, 1, 9, 5]))
        assert scores[new].min() > np.sort(scores[BLOCK:N_ITEMS])[-3], "new block-0 items rank with block 0"
        again = type(model).load(grown.save(tmp_path / "grown"))
        np.testing.assert_allclose(again.score(np.arange(3)), grown.score(np.arange(3)), rtol=1e-5, atol=1e-6)
        with pytest.raises(ValueError, match="columns"):
            grown.add_items(item_entities=np.zeros((1, 3), np.float32))

    def test_save_and_load_in_a_fresh_process(self, model, tmp_path: Path):
        folder = model.save(tmp_path / "m")
        assert sorted(p.name for p in folder.iterdir()) == ["model.json", "weights.safetensors"]
        header = json.loads((folder / "model.json").read_text())
        assert header["model"] == self.model_name
        code = (
            "import json, sys, numpy as np; from fathom import Recommender; "
            f"m = Recommender.load({str(folder)!r}); "
            "ids, _ = m.recommend(np.arange(6), k=5); "
            "print(json.dumps({'scores': m.score(np.arange(6)).tolist(), 'ids': ids.tolist()}))"
        )
        loaded = json.loads(run_fresh(code).stdout)
        np.testing.assert_allclose(np.array(loaded["scores"]), model.score(np.arange(6)), rtol=1e-5, atol=1e-6)
        assert loaded["ids"] == model.recommend(np.arange(6), k=5)[0].tolist()

    def test_load_checks_the_model_kind(self, model, tmp_path: Path):
        folder = model.save(tmp_path / "m")
        cls = type(model)
        assert isinstance(cls.load(folder), cls)
        other = next(c for c in (get_model_class(n) for n in ("pop", "ease")) if c is not cls)
        with pytest.raises(TypeError, match="not"):
            other.load(folder)

    def test_warm_start_carries_every_learnt_array_into_a_grown_model(self, model, data):
        """Neural models only: ``fit(train, init_from=old)`` on a catalogue and user base that grew."""
        import torch

        from fathom.models.torch_base import TorchRecommender

        if not isinstance(model, TorchRecommender):
            pytest.skip("the warm-start hook belongs to torch models")
        train, _ = data
        grown = Interactions.from_arrays(train.user, train.item, N_USERS + 2, N_ITEMS + 3)
        frozen = model.config.replace(epochs=1, lr=1e-12, patience=None)  # one step that moves nothing
        warm = type(model)(frozen).fit(grown, init_from=model, **self.fit_kwargs(N_ITEMS + 3))
        old_state, new_state = model.net.state_dict(), warm.net.state_dict()
        assert warm.meta["warm_start"]["arrays"] == len(old_state)
        for name, old in old_state.items():
            block = tuple(slice(0, n) for n in old.shape)
            torch.testing.assert_close(new_state[name][block], old, atol=1e-6, rtol=0, msg=name)
        with pytest.raises(ValueError, match="at least init_from's users and items"):
            type(model)(frozen).fit(Interactions.from_arrays(train.user, train.item, N_USERS, N_ITEMS - 1),
                                    init_from=model, **self.fit_kwargs(N_ITEMS - 1))
