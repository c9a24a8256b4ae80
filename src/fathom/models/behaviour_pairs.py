"""Training pairs for a text encoder, read from behaviour: (anchor text, positive text) strings.

Both builders take a catalogue's item texts (``texts[i]`` is item index ``i``'s text) and the *training*
interactions only; validation and test interactions must not be passed in, so the encoder never sees a held-out
item as a positive.

- :func:`next_item_pairs`: within each user's history in time order, the text of the last ``history`` items
  (most recent first, joined) -> the next item's text. ``history=1`` gives item -> next item.
- :func:`cooccurrence_pairs`: items a user met within ``window`` places of each other, in both directions.

Pairs whose anchor and positive are the same item (a repeat purchase) are skipped, as are items without text.
When there are more than ``max_pairs`` candidates, a seeded uniform sample without replacement is kept (so a
frequent transition may appear several times, in proportion to how often users made it). The result is a list
of ``(anchor, positive)`` string tuples, the input of :func:`fathom.text.finetune.finetune_encoder`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fathom.data.interactions import Interactions
from fathom.models.sequence import Sequences
from fathom.text.item_text import cut

Pair = tuple[str, str]


def _histories(train: Interactions) -> list[np.ndarray]:
    """Each user's training items, oldest first: a list of (n_u,) arrays (users without items left out)."""
    seqs = Sequences.from_interactions(train)
    return [seqs[u] for u in np.flatnonzero(seqs.lengths() > 0)]


def _sample(candidates: list[tuple[tuple[int, ...], int]], max_pairs: int | None, seed: int
            ) -> list[tuple[tuple[int, ...], int]]:
    if max_pairs is None or len(candidates) <= max_pairs:
        keep = np.random.default_rng(seed).permutation(len(candidates))
    else:
        keep = np.random.default_rng(seed).choice(len(candidates), max_pairs, replace=False)
    return [candidates[i] for i in keep]


def _check(texts: Sequence[str], train: Interactions, max_pairs: int | None) -> None:
    if len(texts) != train.n_items:
        raise ValueError(f"texts has {len(texts)} entries but the interactions have {train.n_items} items")
    if max_pairs is not None and max_pairs < 1:
        raise ValueError(f"max_pairs must be at least 1 (or None), got {max_pairs}")


def next_item_pairs(
    texts: Sequence[str],
    train: Interactions,
    history: int = 1,
    max_pairs: int | None = None,
    seed: int = 0,
    joiner: str = " | ",
    history_chars: int | None = None,
) -> list[Pair]:
    """(text of the last ``history`` items, most recent first, each once, joined by ``joiner`` -> next item).

    ``history_chars``: each history item's text is cut to this many characters first (so that several items fit
    in a short token budget; None keeps them whole). The pairs come in a seeded random order."""
    _check(texts, train, max_pairs)
    if history < 1:
        raise ValueError(f"history must be at least 1, got {history}")
    has_text = np.array([bool(t.strip()) for t in texts])
    candidates: list[tuple[tuple[int, ...], int]] = []
    for items in _histories(train):
        for t in range(1, len(items)):
            target = int(items[t])
            recent = items[max(0, t - history) : t][::-1]  # most recent first; each item once
            before = list(dict.fromkeys(int(i) for i in recent if has_text[i] and i != target))
            if before and has_text[target]:
                candidates.append((tuple(before), target))
    chosen = _sample(candidates, max_pairs, seed)

    def anchor(items: tuple[int, ...]) -> str:
        parts = [texts[i] if history_chars is None else cut(texts[i], history_chars) for i in items]
        return joiner.join(parts)

    return [(anchor(before), texts[target]) for before, target in chosen]


def cooccurrence_pairs(
    texts: Sequence[str],
    train: Interactions,
    window: int = 3,
    max_pairs: int | None = None,
    seed: int = 0,
) -> list[Pair]:
    """(item text, text of an item the same user met within ``window`` places), both directions, seeded order."""
    _check(texts, train, max_pairs)
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    has_text = np.array([bool(t.strip()) for t in texts])
    candidates: list[tuple[tuple[int, ...], int]] = []
    for items in _histories(train):
        for t in range(len(items)):
            for s in range(t + 1, min(len(items), t + window + 1)):
                a, b = int(items[t]), int(items[s])
                if a != b and has_text[a] and has_text[b]:
                    candidates += [((a,), b), ((b,), a)]
    return [(texts[a[0]], texts[b]) for a, b in _sample(candidates, max_pairs, seed)]
