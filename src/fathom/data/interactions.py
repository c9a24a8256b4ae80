"""Index-coded interactions: the form every model trains on and every evaluator reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class Interactions:
    """A set of (user, item) events with contiguous integer ids.

    Arrays all have shape (N,): ``user`` and ``item`` int32 indices into ``range(n_users)`` /
    ``range(n_items)``, ``value`` float32 (a rating, or an implicit-feedback weight), ``timestamp`` int64
    (seconds since the epoch; 0 where unknown).
    """

    user: np.ndarray
    item: np.ndarray
    value: np.ndarray
    timestamp: np.ndarray
    n_users: int
    n_items: int
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.user)
        object.__setattr__(self, "user", np.ascontiguousarray(self.user, dtype=np.int32))
        object.__setattr__(self, "item", np.ascontiguousarray(self.item, dtype=np.int32))
        object.__setattr__(self, "value", np.ascontiguousarray(self.value, dtype=np.float32))
        object.__setattr__(self, "timestamp", np.ascontiguousarray(self.timestamp, dtype=np.int64))
        for name in ("item", "value", "timestamp"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Interactions.{name} has {len(getattr(self, name))} entries, user has {n}")
        if n:
            if self.user.min() < 0 or self.user.max() >= self.n_users:
                raise ValueError(f"Interactions.user outside [0, {self.n_users})")
            if self.item.min() < 0 or self.item.max() >= self.n_items:
                raise ValueError(f"Interactions.item outside [0, {self.n_items})")

    @classmethod
    def from_arrays(
        cls,
        user: np.ndarray,
        item: np.ndarray,
        n_users: int,
        n_items: int,
        value: np.ndarray | None = None,
        timestamp: np.ndarray | None = None,
    ) -> Interactions:
        n = len(user)
        return cls(
            user=user,
            item=item,
            value=np.ones(n, np.float32) if value is None else value,
            timestamp=np.zeros(n, np.int64) if timestamp is None else timestamp,
            n_users=n_users,
            n_items=n_items,
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, n_users: int, n_items: int) -> Interactions:
        """From a frame with integer columns ``user``, ``item`` and optional ``value``, ``timestamp``."""
        return cls.from_arrays(
            frame["user"].to_numpy(),
            frame["item"].to_numpy(),
            n_users,
            n_items,
            frame["value"].to_numpy() if "value" in frame else None,
            frame["timestamp"].to_numpy() if "timestamp" in frame else None,
        )

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"user": self.user, "item": self.item, "value": self.value, "timestamp": self.timestamp}
        )

    def __len__(self) -> int:
        return len(self.user)

    def subset(self, index: np.ndarray) -> Interactions:
        """Rows selected by a boolean mask or an integer index."""
        return Interactions(
            self.user[index], self.item[index], self.value[index], self.timestamp[index],
            self.n_users, self.n_items,
        )

    def csr(self, binary: bool = True) -> sp.csr_matrix:
        """(n_users, n_items) matrix; 1.0 per observed pair when ``binary``, else the summed values.

        Cached: treat the result as read-only.
        """
        key = ("csr", binary)
        if key not in self._cache:
            data = np.ones(len(self), np.float32) if binary else self.value
            m = sp.csr_matrix((data, (self.user, self.item)), shape=(self.n_users, self.n_items), dtype=np.float32)
            m.sum_duplicates()
            if binary:
                m.data[:] = 1.0
            m.sort_indices()
            self._cache[key] = m
        return self._cache[key]

    def users_with_items(self) -> np.ndarray:
        """Sorted user indices that have at least one interaction."""
        return np.unique(self.user)

    def item_counts(self) -> np.ndarray:
        """(n_items,) number of interactions per item."""
        return np.bincount(self.item, minlength=self.n_items)
