"""Helpers to keep sparse matrices in safetensors state dicts (no pickle)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def csr_to_state(prefix: str, m: sp.csr_matrix) -> dict[str, np.ndarray]:
    """Arrays of ``m`` by name; column indices as int32 where the matrix is narrow enough (4 bytes, not 8)."""
    m = sp.csr_matrix(m)
    index_type = np.int32 if m.shape[1] < 2**31 else np.int64
    return {
        f"{prefix}.data": m.data.astype(np.float32),
        f"{prefix}.indices": m.indices.astype(index_type),
        f"{prefix}.indptr": m.indptr.astype(np.int64),
        f"{prefix}.shape": np.asarray(m.shape, dtype=np.int64),
    }


def csr_from_state(prefix: str, state: dict[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(x) for x in state[f"{prefix}.shape"])
    return sp.csr_matrix(
        (state[f"{prefix}.data"], state[f"{prefix}.indices"], state[f"{prefix}.indptr"]), shape=shape
    )
