"""Helpers to keep sparse matrices in safetensors state dicts (no pickle)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def csr_to_state(prefix: str, m: sp.csr_matrix) -> dict[str, np.ndarray]:
    m = sp.csr_matrix(m)
    return {
        f"{prefix}.data": m.data.astype(np.float32),
        f"{prefix}.indices": m.indices.astype(np.int64),
        f"{prefix}.indptr": m.indptr.astype(np.int64),
        f"{prefix}.shape": np.asarray(m.shape, dtype=np.int64),
    }


def csr_from_state(prefix: str, state: dict[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(x) for x in state[f"{prefix}.shape"])
    return sp.csr_matrix(
        (state[f"{prefix}.data"], state[f"{prefix}.indices"], state[f"{prefix}.indptr"]), shape=shape
    )
