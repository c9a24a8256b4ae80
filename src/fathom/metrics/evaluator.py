"""Full-ranking evaluation: every user's test items are ranked against ALL catalogue items.

No sampled negatives: a model scores every item for every evaluated user, excluded items (the user's training
items, and for a test split also the validation items) are removed, and the metrics of
:mod:`fathom.metrics.ranking` are computed on the top ``max(ks)`` of what remains.

Protocol, precisely:

- Evaluated users are those with at least one test item (optionally intersected with ``users``). Users without
  test items are skipped, never scored as 0. ``n_users`` in the result says how many were evaluated.
- A user's relevant set is their test items as given, including any that are also excluded (such an item can
  never be ranked, so it can only lower recall and NDCG). Test duplicates count once.
- Excluded items get score -inf; NaN scores are treated as -inf too, so a diverged model scores 0, not NaN.
- Top-k order is deterministic: by score descending, ties by the lower item id, exactly as
  :func:`fathom.metrics.topk.top_k` and ``Recommender.recommend`` order them. Positions left when fewer
  than ``k`` items are eligible hold id -1 and never count as hits.
- Reported values are means over evaluated users; ``coverage@k`` is the share of the catalogue that appears in
  at least one evaluated user's top-k list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, overload

import numpy as np
import scipy.sparse as sp

from fathom.data.interactions import Interactions
from fathom.metrics.ranking import RANKING_METRICS
from fathom.metrics.topk import _top_k_by_cost

KNOWN_METRICS: tuple[str, ...] = (*RANKING_METRICS, "coverage")
DEFAULT_METRICS: tuple[str, ...] = ("recall", "mrr", "ndcg", "hit", "precision")

Exclusion = Interactions | sp.spmatrix | sp.sparray


class Scorer(Protocol):
    """Anything that scores every item for a batch of users (a fitted Recommender, or an adapter)."""

    def score(self, users: np.ndarray) -> np.ndarray:
        """users: int64 (B,) -> scores (B, n_items), higher is better."""
        ...


def _exclusion_csr(exclude: Exclusion | Sequence[Exclusion], shape: tuple[int, int]) -> sp.csr_matrix | None:
    """One binary (n_users, n_items) CSR matrix of every excluded pair, or None when nothing is excluded."""
    if isinstance(exclude, Interactions | sp.spmatrix | sp.sparray):
        exclude = (exclude,)
    total = None
    for part in exclude:
        m = part.csr() if isinstance(part, Interactions) else sp.csr_matrix(part)
        if m.shape != shape:
            raise ValueError(f"an exclusion matrix has shape {m.shape}, the test set has {shape}")
        m = (m != 0).astype(np.float32)
        total = m if total is None else total + m
    if total is None:
        return None
    total = sp.csr_matrix(total)
    total.eliminate_zeros()
    total.data[:] = 1.0
    total.sort_indices()
    return total


class Evaluator:
    """Holds a test set and its exclusions once; each call evaluates a model on them.

    Built once (CSR matrices, evaluated users and their relevant items precomputed) and called every epoch by
    a training loop, e.g.
    ``Evaluator(valid, exclude=[train], ks=(10,), metrics=("ndcg",))(model)["ndcg@10"]``.
    See the module docstring for the protocol and :func:`evaluate_ranking` for the arguments.
    """

    def __init__(
        self,
        test: Interactions,
        exclude: Exclusion | Sequence[Exclusion] = (),
        ks: Sequence[int] = (10,),
        metrics: Sequence[str] = DEFAULT_METRICS,
        batch_size: int = 2048,
        users: np.ndarray | None = None,
    ) -> None:
        if isinstance(metrics, str):
            metrics = (metrics,)
        unknown = [m for m in metrics if m not in KNOWN_METRICS]
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(KNOWN_METRICS)}")
        if not metrics:
            raise ValueError(f"no metrics asked for; known: {', '.join(KNOWN_METRICS)}")
        ks = tuple(sorted({int(k) for k in ks}))
        if not ks or ks[0] < 1:
            raise ValueError(f"ks must be positive cutoffs, got {ks}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.metrics: tuple[str, ...] = tuple(dict.fromkeys(metrics))
        self.ks: tuple[int, ...] = ks
        self.batch_size = int(batch_size)
        self.n_items = test.n_items

        test_csr = test.csr()  # (n_users, n_items) binary, sorted indices
        candidates = np.flatnonzero(np.diff(test_csr.indptr) > 0)
        if users is not None:
            users = np.asarray(users)
            if users.ndim != 1 or not np.issubdtype(users.dtype, np.integer):
                raise ValueError("users must be a 1-d integer array")
            if len(users) and (users.min() < 0 or users.max() >= test.n_users):
                raise ValueError(f"users must lie in [0, {test.n_users})")
            candidates = np.intersect1d(candidates, users)
        if len(candidates) == 0:
            raise ValueError("no user to evaluate: none has a test item (among the given users)")
        #: (U,) int64 evaluated users, ascending; per-user results follow this order.
        self.users: np.ndarray = candidates.astype(np.int64)

        rel = test_csr[self.users]  # (U, n_items)
        self.n_relevant: np.ndarray = np.diff(rel.indptr).astype(np.int64)  # (U,)
        # one sorted int64 key per (evaluated-user position, relevant item): membership by binary search
        rows = np.repeat(np.arange(len(self.users), dtype=np.int64), self.n_relevant)
        self._relevant_keys = rows * self.n_items + rel.indices.astype(np.int64)  # (nnz,) ascending
        excl = _exclusion_csr(exclude, (test.n_users, test.n_items))
        self._exclude = None if excl is None else excl[self.users]  # (U, n_items) CSR

    @property
    def n_users(self) -> int:
        return len(self.users)

    @overload
    def __call__(self, model: Scorer, per_user: Literal[False] = ...) -> dict[str, float]: ...

    @overload
    def __call__(
        self, model: Scorer, per_user: Literal[True]
    ) -> tuple[dict[str, float], dict[str, np.ndarray]]: ...

    def __call__(
        self, model: Scorer, per_user: bool = False
    ) -> dict[str, float] | tuple[dict[str, float], dict[str, np.ndarray]]:
        """Mean metrics by name ("ndcg@10", ..., "coverage@10", "n_users").

        With ``per_user=True`` also returns a second dict: "user" -> (U,) evaluated user ids and, for every
        per-user metric, name -> (U,) float64 values in the same order (coverage has no per-user value).
        """
        n_users, kmax = len(self.users), self.ks[-1]
        per_user_names = [m for m in self.metrics if m != "coverage"]
        values = {f"{m}@{k}": np.empty(n_users, np.float64) for m in per_user_names for k in self.ks}
        seen = {k: np.zeros(self.n_items, bool) for k in self.ks} if "coverage" in self.metrics else {}
        for start in range(0, n_users, self.batch_size):
            end = min(start + self.batch_size, n_users)
            ids = self._top_ids(model, start, end, kmax)  # (b, kmax)
            hits = self._hits(ids, start)  # (b, kmax)
            n_rel = self.n_relevant[start:end]
            for m in per_user_names:
                fn = RANKING_METRICS[m]
                for k in self.ks:
                    values[f"{m}@{k}"][start:end] = fn(hits, n_rel, k)
            for k, mask in seen.items():
                top = ids[:, :k]
                mask[top[top >= 0]] = True

        summary: dict[str, float] = {}
        for m in self.metrics:
            for k in self.ks:
                key = f"{m}@{k}"
                summary[key] = float(seen[k].mean()) if m == "coverage" else float(values[key].mean())
        summary["n_users"] = n_users
        if per_user:
            return summary, {"user": self.users.copy(), **values}
        return summary

    def top_lists(self, model: Scorer, k: int | None = None) -> np.ndarray:
        """(U, k) int64: every evaluated user's top-k items (exclusions removed; -1 pads), in ``users`` order: the
        lists the beyond-accuracy metrics (:mod:`fathom.metrics.beyond`) and re-rankers read."""
        k = self.ks[-1] if k is None else int(k)
        return np.concatenate([self._top_ids(model, s, min(s + self.batch_size, self.n_users), k)
                               for s in range(0, self.n_users, self.batch_size)])

    def _top_ids(self, model: Scorer, start: int, end: int, k: int) -> np.ndarray:
        """ids int64 (b, k): the model's top-k items for evaluated users [start, end), exclusions removed."""
        batch = self.users[start:end]
        scores = np.asarray(model.score(batch))  # (b, n_items)
        if scores.shape != (len(batch), self.n_items):
            expected = (len(batch), self.n_items)
            raise ValueError(f"model.score returned shape {scores.shape}, expected {expected}")
        dtype = scores.dtype if np.issubdtype(scores.dtype, np.floating) else np.float64
        cost = np.negative(scores, dtype=dtype)  # (b, n_items), a new array: the model's output is untouched
        cost[np.isnan(cost)] = np.inf
        if self._exclude is not None:
            ptr = self._exclude.indptr
            rows = np.repeat(np.arange(end - start), np.diff(ptr[start : end + 1]))
            cost[rows, self._exclude.indices[ptr[start] : ptr[end]]] = np.inf
        return _top_k_by_cost(cost, k)[0]

    def _hits(self, ids: np.ndarray, start: int) -> np.ndarray:
        """(b, k) bool: whether each ranked id is one of its user's relevant items."""
        keys = self._relevant_keys
        rows = np.arange(start, start + len(ids), dtype=np.int64)[:, None]
        query = rows * self.n_items + ids  # (b, k); padding (-1) is masked out below
        pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
        return (keys[pos] == query) & (ids >= 0)


@overload
def evaluate_ranking(
    model: Scorer,
    test: Interactions,
    exclude: Exclusion | Sequence[Exclusion] = ...,
    ks: Sequence[int] = ...,
    metrics: Sequence[str] = ...,
    batch_size: int = ...,
    users: np.ndarray | None = ...,
    per_user: Literal[False] = ...,
) -> dict[str, float]: ...


@overload
def evaluate_ranking(
    model: Scorer,
    test: Interactions,
    exclude: Exclusion | Sequence[Exclusion] = ...,
    ks: Sequence[int] = ...,
    metrics: Sequence[str] = ...,
    batch_size: int = ...,
    users: np.ndarray | None = ...,
    *,
    per_user: Literal[True],
) -> tuple[dict[str, float], dict[str, np.ndarray]]: ...


def evaluate_ranking(
    model: Scorer,
    test: Interactions,
    exclude: Exclusion | Sequence[Exclusion] = (),
    ks: Sequence[int] = (10,),
    metrics: Sequence[str] = DEFAULT_METRICS,
    batch_size: int = 2048,
    users: np.ndarray | None = None,
    per_user: bool = False,
) -> dict[str, float] | tuple[dict[str, float], dict[str, np.ndarray]]:
    """Full-ranking metrics of ``model`` on ``test``; see the module docstring for the protocol.

    model: has ``score(users int64 (B,)) -> (B, n_items)``. exclude: Interactions or sparse (n_users,
    n_items) matrices whose pairs are never ranked (training items; for a test split also validation items).
    ks: cutoffs. metrics: names among :data:`KNOWN_METRICS` ("precision", "recall", "f1", "ndcg", "mrr",
    "hit", "map", "coverage"); an unknown name raises ValueError. batch_size: users scored per call.
    users: evaluate only these users (those among them with a test item).

    Returns means keyed "name@k" plus "n_users"; with ``per_user=True`` also the per-user values (see
    :meth:`Evaluator.__call__`).
    """
    evaluator = Evaluator(test, exclude=exclude, ks=ks, metrics=metrics, batch_size=batch_size, users=users)
    return evaluator(model, per_user=per_user)
