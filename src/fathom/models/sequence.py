"""Next-item prediction from chronological item sequences: what SASRec and GRU4Rec share.

- :class:`Sequences`: every user's items in time order (ties in time keep input order), as one int32 array plus
  offsets, so a model's state holds them without pickle.
- :func:`pad_left` / :meth:`Sequences.padded`: the network input. Sequences are right-aligned in a (B, L) matrix,
  the most recent item in the last column; items are stored shifted by one (item ``i`` -> ``i + 1``) because
  index 0 (:data:`PAD`) is padding.
- :func:`training_windows`: the training examples. A window of ``L + 1`` consecutive items gives ``L`` inputs and
  ``L`` next-item targets, and the loss is taken at every position at once (not one example per prefix).
- :func:`next_item_loss`: full softmax over the catalogue, sampled softmax (with logQ correction), BPR or BCE
  against sampled negatives shared by every position of a batch (uniform, popularity-weighted, or the batch's
  own target items).
- :class:`SequentialRecommender`: the Recommender side. ``score(users)`` ranks the item that follows each user's
  stored history (the training sequences after ``fit``); :meth:`~SequentialRecommender.with_history` gives a
  model whose histories also hold later events (e.g. the validation item, to rank the test item);
  :meth:`~SequentialRecommender.score_sequences` scores anonymous sequences.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Self

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from fathom.data.interactions import Interactions
from fathom.models.history_bias import add_history_bias, history_bias_loss
from fathom.models.losses import full_softmax_loss
from fathom.models.torch_base import TorchConfig, TorchRecommender
from fathom.models.training import Objective, Validate

PAD = 0
SeqLoss = Literal["softmax", "sampled_softmax", "bpr", "bce"]
NegativeSampling = Literal["uniform", "popularity", "in_batch"]
TrainWindows = Literal["last", "random", "all"]
Precision = Literal["float32", "bfloat16"]


def chronological_order(inter: Interactions) -> np.ndarray:
    """(N,) row order by user, then timestamp; rows with equal timestamps keep their input order."""
    order = np.argsort(inter.timestamp, kind="stable")
    return order[np.argsort(inter.user[order], kind="stable")]


@dataclass(frozen=True, eq=False)
class Sequences:
    """Each user's items, oldest first: user ``u`` owns ``items[offsets[u]:offsets[u + 1]]``.

    items: (N,) int32 item ids; offsets: (n_users + 1,) int64, non-decreasing, offsets[0] == 0.
    """

    items: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_interactions(cls, inter: Interactions, max_len: int | None = None) -> Sequences:
        """Chronological sequences of ``inter``'s users (ties in time keep input order), the last ``max_len``."""
        order = chronological_order(inter)
        counts = np.bincount(inter.user, minlength=inter.n_users)
        seqs = cls(inter.item[order].astype(np.int32), np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
        return seqs if max_len is None else seqs.last(max_len)

    @classmethod
    def from_lists(cls, lists: Sequence[Sequence[int]]) -> Sequences:
        lengths = np.array([len(s) for s in lists], dtype=np.int64)
        items = np.concatenate([np.asarray(s, dtype=np.int64).ravel() for s in lists]) if len(lists) else []
        return cls(np.asarray(items, dtype=np.int32), np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

    @property
    def n_users(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        """(n_users,) int64 sequence lengths."""
        return np.diff(self.offsets)

    def __getitem__(self, user: int) -> np.ndarray:
        return self.items[self.offsets[user] : self.offsets[user + 1]]

    def last(self, max_len: int) -> Sequences:
        """Only the most recent ``max_len`` items of each user."""
        keep_len = np.minimum(self.lengths(), max_len)  # (U,)
        return self._gather(self.offsets[1:] - keep_len, keep_len)

    def _gather(self, starts: np.ndarray, lengths: np.ndarray) -> Sequences:
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        index = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])  # (N',) source positions
        return Sequences(self.items[index], offsets)

    def extend(self, events: Interactions, max_len: int | None = None) -> Sequences:
        """These sequences with ``events`` appended after each user's items (in time order among themselves)."""
        if events.n_users != self.n_users:
            raise ValueError(f"events have {events.n_users} users, the sequences {self.n_users}")
        new = Sequences.from_interactions(events)
        old_len, new_len = self.lengths(), new.lengths()  # (U,), (U,)
        offsets = np.concatenate([[0], np.cumsum(old_len + new_len)]).astype(np.int64)
        items = np.empty(offsets[-1], np.int32)
        items[np.repeat(offsets[:-1] - self.offsets[:-1], old_len) + np.arange(len(self.items))] = self.items
        shift = offsets[:-1] + old_len - new.offsets[:-1]
        items[np.repeat(shift, new_len) + np.arange(len(new.items))] = new.items
        merged = Sequences(items, offsets)
        return merged if max_len is None else merged.last(max_len)

    def padded(self, users: np.ndarray, max_len: int) -> np.ndarray:
        """(B, max_len) int64 network input for ``users``: the last items right-aligned, shifted by one, 0 = pad."""
        users = np.asarray(users, dtype=np.int64)
        lens = np.minimum(self.lengths()[users], max_len)  # (B,)
        col = np.arange(max_len)[None, :]  # (1, L)
        real = col >= (max_len - lens)[:, None]  # (B, L)
        index = self.offsets[users + 1][:, None] - max_len + col  # (B, L) position of each column's item
        index = np.clip(index, 0, max(len(self.items) - 1, 0))
        out = np.zeros((len(users), max_len), np.int64)
        if len(self.items):
            out[real] = self.items[index[real]].astype(np.int64) + 1
        return out


def pad_left(lists: Sequence[Sequence[int]], max_len: int) -> np.ndarray:
    """(B, max_len) int64 network input for item lists (oldest first): see :meth:`Sequences.padded`."""
    seqs = Sequences.from_lists(lists)
    return seqs.padded(np.arange(seqs.n_users), max_len)


def training_windows(
    seqs: Sequences, max_len: int, mode: TrainWindows, rng: np.random.Generator, stride: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ``max_len + 1`` consecutive items: inputs (W, L) int64 (shifted, 0 = pad) and targets (W, L)
    int64 item ids, -1 where there is no loss (the input is padding).

    ``last``: each user's most recent window (SASRec's paper). ``random``: one window per user ending at a random
    position (full length when the user has enough items), drawn anew each epoch. ``all``: a window ends every
    ``stride`` items (default ``max_len``) from the end of the user's sequence and only its last ``stride``
    positions carry a loss, the earlier ones being context; so every transition is a target exactly once per
    epoch, seen with at least ``max_len - stride`` earlier items (fewer near the user's start). ``stride = 1`` is
    RecBole's one example per prefix. Users with fewer than 2 items give no window.
    """
    lens = seqs.lengths()
    users = np.flatnonzero(lens >= 2)
    n, start = lens[users], seqs.offsets[users]  # (U,), (U,)
    if mode == "last":
        ends, starts = start + n, start
    elif mode == "random":
        ends, starts = start + rng.integers(np.minimum(n, max_len + 1), n + 1), start
    elif mode == "all":
        step = max_len if stride is None else stride
        if not 1 <= step <= max_len:
            raise ValueError(f"stride must lie in [1, max_len={max_len}], got {stride}")
        per_user = -(-(n - 1) // step)  # ceil((n - 1) / S) windows of S targets each
        owner = np.repeat(np.arange(len(users)), per_user)  # (W,)
        k = np.arange(len(owner)) - np.repeat(np.cumsum(per_user) - per_user, per_user)  # 0 = the last window
        ends, starts = start[owner] + n[owner] - k * step, start[owner]
    else:
        raise ValueError(f"unknown window mode {mode!r}")
    index = ends[:, None] - (max_len + 1) + np.arange(max_len + 1)[None, :]  # (W, L + 1)
    real = index >= starts[:, None]  # (W, L + 1)
    window = np.where(real, seqs.items[np.maximum(index, 0)].astype(np.int64), -1)  # (W, L + 1)
    inputs = np.where(real[:, :-1], window[:, :-1] + 1, PAD)  # (W, L)
    targets = np.where(real[:, :-1] & real[:, 1:], window[:, 1:], -1)  # (W, L)
    if mode == "all" and step < max_len:
        targets[:, : max_len - step] = -1  # context only: these targets belong to the previous window
    return inputs, targets


def next_item_loss(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    table: torch.Tensor,
    loss: SeqLoss = "softmax",
    negatives: torch.Tensor | None = None,
    log_q: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Mean next-item loss of ``P`` positions.

    hidden: (P, d) sequence states; targets: (P,) int64 true next items; table: (n, d) item embeddings
    (logit = <hidden, table[item]>); negatives: (k,) int64 items shared by every position, required unless
    ``loss == "softmax"``; a negative equal to a position's target is ignored for that position. log_q: (n,) log
    sampling probabilities, subtracted from the logits of sampled softmax (logQ correction).

    - ``softmax``: cross-entropy over the whole catalogue (with ``label_smoothing``; see
      :func:`~fathom.models.losses.full_softmax_loss`);
    - ``sampled_softmax``: cross-entropy over the target and the ``k`` negatives;
    - ``bpr``: mean of -log sigmoid(pos - neg) over (position, negative) pairs;
    - ``bce``: per position -log sigmoid(pos) plus the mean of -log(1 - sigmoid(neg)) over its negatives.
    """
    if loss == "softmax":
        return full_softmax_loss(hidden, targets, table, label_smoothing=label_smoothing)
    if negatives is None:
        raise ValueError(f"loss {loss!r} needs negatives")
    pos = (hidden * table[targets]).sum(-1)  # (P,)
    neg = hidden @ table[negatives].T  # (P, k)
    hit = negatives[None, :] == targets[:, None]  # (P, k) accidental hits
    if loss == "sampled_softmax":
        if log_q is not None:
            pos, neg = pos - log_q[targets], neg - log_q[negatives][None, :]
        logits = torch.cat([pos[:, None], neg.masked_fill(hit, float("-inf"))], dim=1)  # (P, 1 + k)
        return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()
    valid = (~hit).float()  # (P, k)
    count = valid.sum(1).clamp(min=1.0)  # (P,)
    if loss == "bpr":
        return ((F.softplus(neg - pos[:, None]) * valid).sum(1) / count).mean()
    if loss == "bce":
        return (F.softplus(-pos) + (F.softplus(neg) * valid).sum(1) / count).mean()
    raise ValueError(f"unknown loss {loss!r}")


RETIRED_SETTINGS = {"contrastive": 0.0, "contrastive_temperature": 1.0, "lookahead": 0, "lookahead_weight": 0.0,
                    "softmax_precision": "float32"}


class SequenceConfig(TorchConfig):
    """Settings shared by the sequence models."""

    max_len: int = Field(50, ge=1, description="most recent items a prediction looks at")
    factors: int = Field(64, ge=1, description="item embedding size")
    loss: SeqLoss = "softmax"
    negatives: NegativeSampling = Field(
        "uniform", description="how sampled losses draw negatives: uniform, by popularity, or the batch's targets"
    )
    n_neg: int = Field(256, ge=1, description="negatives per batch (shared by its positions), uniform/popularity")
    logq_correction: bool = Field(True, description="sampled softmax subtracts log sampling probability")
    windows: TrainWindows = Field("all", description="training windows per user: last, random or all")
    stride: int | None = Field(
        None, ge=1, description="windows='all': a window every this many items, loss on its last `stride` "
        "positions; None: max_len (windows do not overlap); 1: every prefix, as RecBole"
    )
    label_smoothing: float = Field(
        0.0, ge=0, lt=1, description="loss='softmax': this share of each target's mass spread over every item"
    )
    history_bias: bool = Field(
        False, description="loss='softmax': a learned bias on the logit of each item in the input window, by how "
        "many steps ago it was there (the data decide whether people come back to items they have had)"
    )
    exclude_seen: bool = Field(
        False, description="validation drops history items from the ranking (False: repeats allowed, as RecBole)"
    )
    init_std: float = Field(0.02, gt=0, description="std of the normal initial embeddings and weights")
    precision: Precision = Field(
        "float32", description="bfloat16: training runs the network under autocast (its matrix products in "
        "bfloat16; weights, optimiser and loss stay float32); scoring is always float32"
    )
    batch_size: int = 128
    epochs: int = 200
    patience: int | None = 10

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.stride is not None and self.stride > self.max_len:
            raise ValueError(f"stride ({self.stride}) cannot exceed max_len ({self.max_len})")
        if self.label_smoothing > 0 and self.loss != "softmax":
            raise ValueError(f"label_smoothing applies to loss='softmax' only, not {self.loss!r}")
        if self.history_bias and self.loss != "softmax":
            raise ValueError("history_bias needs loss='softmax'")
        return self

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: object) -> object:
        """Settings that measured no better and were removed (docs/experiments/): a saved model that left them
        at their defaults still loads; any other value is refused, naming the setting."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, default in RETIRED_SETTINGS.items():
            if name in data and data.pop(name) != default:
                raise ValueError(f"{name}: this setting was removed (it measured no better; see docs/experiments/)")
        return data


class SequenceNet(nn.Module):
    """A network from (B, L) padded item sequences to (B, L) states; logits against ``item_table()``."""

    item_emb: nn.Embedding  # (n_items + 1, d), row 0 = padding
    history_bias: nn.Parameter | None  # (max_len,) or None: see fathom.models.history_bias

    def init_history_bias(self, c: SequenceConfig) -> None:
        """Register ``history_bias``: zeros (max_len,) when the config asks for it, else None."""
        self.register_parameter("history_bias", nn.Parameter(torch.zeros(c.max_len)) if c.history_bias else None)

    def forward(self, seqs: torch.Tensor, tail: int | None = None) -> torch.Tensor:
        """(B, L) int64 -> (B, L, d) states, or (B, tail, d) of the last ``tail`` positions only (a network may
        then skip work that only earlier outputs need); position t depends only on positions <= t."""
        raise NotImplementedError

    def item_table(self) -> torch.Tensor:
        return self.item_emb.weight[1:]  # (n_items, d)


def init_weights(module: nn.Module, std: float) -> None:
    """Normal(0, std) embeddings and linear weights, zero biases, unit layer norms; the pad row stays zero."""
    for m in module.modules():
        if isinstance(m, nn.Embedding | nn.Linear):
            nn.init.normal_(m.weight, std=std)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class SequenceObjective(Objective):
    """Training windows of every user, in shuffled batches, scored with :func:`next_item_loss`."""

    def __init__(self, net: SequenceNet, seqs: Sequences, n_items: int, config: SequenceConfig) -> None:
        super().__init__(net)
        self.seqs, self.n_items, self.config = seqs, n_items, config
        counts = np.bincount(seqs.items, minlength=n_items).astype(np.float64) + 1.0  # smoothed popularity
        self.popularity = counts / counts.sum()  # (n,)
        self.log_pop = torch.from_numpy(np.log(self.popularity).astype(np.float32))
        self.log_uniform = torch.full((n_items,), -float(np.log(n_items)))

    def batches(self, rng: np.random.Generator, batch_size: int) -> Iterator[tuple]:
        c = self.config
        inputs, targets = training_windows(self.seqs, c.max_len, c.windows, rng, c.stride)  # (W, L), (W, L)
        order = rng.permutation(len(inputs))
        inputs_t, targets_t = torch.from_numpy(inputs[order]), torch.from_numpy(targets[order])
        for start in range(0, len(order), batch_size):
            negatives = None
            if c.loss != "softmax" and c.negatives == "uniform":
                negatives = torch.from_numpy(rng.integers(0, self.n_items, c.n_neg))
            elif c.loss != "softmax" and c.negatives == "popularity":
                negatives = torch.from_numpy(rng.choice(self.n_items, c.n_neg, p=self.popularity))
            yield inputs_t[start : start + batch_size], targets_t[start : start + batch_size], negatives

    def _forward(self, inputs: torch.Tensor, tail: int | None) -> torch.Tensor:
        """The network's float32 states, computed under bfloat16 autocast when ``precision`` asks for it."""
        with torch.autocast(inputs.device.type, torch.bfloat16, enabled=self.config.precision == "bfloat16"):
            return self.net(inputs, tail).float()

    def loss(self, batch: tuple) -> torch.Tensor:
        inputs, targets, negatives = batch  # (B, L), (B, L), (k,) or None
        c = self.config
        tail = c.stride if c.windows == "all" and c.stride is not None else None  # earlier targets are all -1
        hidden = self._forward(inputs, tail)  # (B, T, d), T = tail or L
        targets = targets[:, -hidden.shape[1] :]  # (B, T)
        keep = targets >= 0  # (B, T)
        h, t = hidden[keep], targets[keep]  # (P, d), (P,)
        log_q = None
        if c.loss != "softmax":
            if c.negatives == "in_batch":
                negatives = torch.unique(t)  # (k,) the batch's targets, drawn roughly by popularity
            if c.logq_correction:
                log_q = self.log_uniform if c.negatives == "uniform" else self.log_pop
        table = self.net.item_table()  # (n, d)
        bias = getattr(self.net, "history_bias", None)  # a network that never called init_history_bias has none
        if bias is not None:  # loss 'softmax' (validated)
            value, lse = full_softmax_loss(h, t, table, label_smoothing=c.label_smoothing, return_lse=True)
            return value + history_bias_loss(hidden, inputs, targets, lse, table, bias, c.label_smoothing)
        return next_item_loss(h, t, table, c.loss, negatives, log_q, c.label_smoothing)


class SequentialRecommender(TorchRecommender):
    """A next-item model over stored user histories.

    After ``fit(train, valid)`` each user's history is their ``train`` sequence (the last ``max_len`` items), and
    ``score(users)`` ranks what comes next after it; validation (for early stopping) ranks the ``valid`` item
    that way. To rank the item after a later event, e.g. the test item after the validation item, score with
    ``model.with_history(valid)``: a copy sharing the network whose histories have ``valid`` appended. Histories
    are saved with the model (``history.items`` / ``history.offsets``, int arrays).
    """

    Config = SequenceConfig
    config: SequenceConfig
    net: SequenceNet
    explanation = "next"  # a prediction continues the sequence from its latest item

    def __init__(self, config: SequenceConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        self.history = Sequences(np.zeros(0, np.int32), np.zeros(1, np.int64))

    def fit(self, train: Interactions, valid: Interactions | None = None, *,
            init_from: TorchRecommender | None = None) -> Self:
        """Train on every user's chronological ``train`` sequence; ``valid`` (next items) drives early stopping;
        ``init_from``: a warm start (:meth:`TorchRecommender.fit`)."""
        self._begin_fit(train)
        self._train_seqs = Sequences.from_interactions(train)
        self.history = self._train_seqs.last(self.config.max_len)
        try:
            super().fit(train, valid, init_from=init_from)
        finally:
            del self._train_seqs
        return self

    def _objective(self, net: SequenceNet, train: Interactions) -> SequenceObjective:
        return SequenceObjective(net, self._train_seqs, self.n_items, self.config)

    def _validator(self, train: Interactions, valid: Interactions | None) -> Validate | None:
        if valid is None or len(valid) == 0:
            return None
        from fathom.metrics.evaluator import Evaluator

        metric, k = re.fullmatch(r"([a-z_]+)@(\d+)", self.config.monitor).groups()
        exclude = (train,) if self.config.exclude_seen else ()
        evaluator = Evaluator(valid, exclude=exclude, ks=(int(k),), metrics=(metric,))
        return lambda: evaluator(self)

    def with_history(self, events: Interactions) -> Self:
        """A copy (sharing the network) whose user histories have ``events`` appended in time order."""
        self._check_fitted()
        if (events.n_users, events.n_items) != (self.n_users, self.n_items):
            raise ValueError("events must have the model's n_users and n_items")
        other = copy.copy(self)
        other.history = self.history.extend(events, self.config.max_len)
        return other

    def _score_net(self, users: torch.Tensor) -> torch.Tensor:
        return self._score_inputs(torch.from_numpy(self.history.padded(users.numpy(), self.config.max_len)))

    def _score_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, L) padded sequences -> (B, n_items) logits of the item after each."""
        logits = self.net(inputs, 1)[:, -1] @ self.net.item_table().T  # (B, d) @ (d, n)
        bias = getattr(self.net, "history_bias", None)
        return logits if bias is None else add_history_bias(logits, inputs, bias)

    def score_sequences(self, item_seqs: Sequence[Sequence[int]]) -> np.ndarray:
        """(B, n_items) float32 scores of the next item after each list of item ids (oldest first).

        Only the last ``max_len`` items of a list count. An empty list gives the scores of an all-padding input,
        which carry no information about the visitor.
        """
        self._check_fitted()
        seqs = Sequences.from_lists(item_seqs)
        self._check_ids(seqs.items, self.n_items, "item")
        inputs = seqs.padded(np.arange(seqs.n_users), self.config.max_len)  # (B, L)
        out = np.empty((len(inputs), self.n_items), np.float32)
        step = self.config.score_batch_size
        was_training = self.net.training
        self.net.eval()
        try:
            with torch.no_grad():
                for s in range(0, len(inputs), step):
                    out[s : s + step] = self._score_inputs(torch.from_numpy(inputs[s : s + step])).numpy()
        finally:
            self.net.train(was_training)
        return out

    def score_history(self, history: np.ndarray, user: int | None = None,
                      popularity: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
        """The next item after the history's latest ``max_len`` items (so an event posted a moment ago is the
        last step; the order itself says what is recent, so ``weights`` are not used); an empty history gives
        ``popularity``."""
        history = np.asarray(history, dtype=np.int64)
        if len(history) == 0:
            return np.zeros(self.n_items, np.float32) if popularity is None else np.asarray(popularity, np.float32)
        return self.score_sequences([history[: self.config.max_len][::-1].tolist()])[0]

    def explain(self, history: np.ndarray, items: np.ndarray) -> list[int | None]:
        """Every prediction comes after the latest history item."""
        return [int(history[0]) if len(history) else None] * len(items)

    def item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.net.item_table().detach().numpy().copy()

    def _state(self) -> dict[str, np.ndarray]:
        state = super()._state()
        state["history.items"] = self.history.items
        state["history.offsets"] = self.history.offsets
        return state

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        state = dict(state)
        self.history = Sequences(state.pop("history.items").astype(np.int32), state.pop("history.offsets"))
        super()._load_state(state)
