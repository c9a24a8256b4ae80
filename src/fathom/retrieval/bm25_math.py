"""BM25 as pure, vectorised functions (the formulas of Kamphuis et al., ECIR 2020, as bm25s implements them).

With ``N`` documents, ``df`` the number containing a term, ``tf`` its count in a document of length ``dl``
and ``avgdl`` the mean length:

- idf: lucene ``log(1 + (N - df + 0.5) / (df + 0.5))``; robertson ``log(max(1, (N - df + 0.5) / (df + 0.5)))``;
  atire ``log(N / df)``
- tf component: lucene / robertson ``tf / (tf + k1 (1 - b + b dl / avgdl))``; atire the same times ``k1 + 1``

A document's score for a query is the sum, over query terms, of ``idf * tfc``. :func:`build_bm25_matrix`
precomputes that product for every (document, term) pair, as bm25s's eager index does, in one vectorised pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import scipy.sparse as sp

BM25Method = Literal["lucene", "robertson", "atire"]


def bm25_idf(df: np.ndarray, n_docs: int, method: BM25Method = "lucene") -> np.ndarray:
    """(V,) document frequencies -> (V,) float64 idf (0 where df is 0)."""
    df = np.asarray(df, dtype=np.float64)
    out = np.zeros_like(df)
    seen = df > 0
    if method == "lucene":
        out[seen] = np.log1p((n_docs - df[seen] + 0.5) / (df[seen] + 0.5))
    elif method == "robertson":
        out[seen] = np.log(np.maximum(1.0, (n_docs - df[seen] + 0.5) / (df[seen] + 0.5)))
    elif method == "atire":
        out[seen] = np.log(n_docs / df[seen])
    else:
        raise ValueError(f"unknown BM25 method {method!r}")
    return out


def bm25_tfc(
    tf: np.ndarray, doc_len: np.ndarray, avg_len: float, k1: float, b: float, method: BM25Method = "lucene"
) -> np.ndarray:
    """Term-frequency component, elementwise over (M,) tf and (M,) document lengths."""
    tf = np.asarray(tf, dtype=np.float64)
    norm = k1 * (1.0 - b + b * np.asarray(doc_len, dtype=np.float64) / max(avg_len, 1e-12))
    tfc = tf / (tf + norm)
    return tfc * (k1 + 1.0) if method == "atire" else tfc


def build_bm25_matrix(
    docs: Sequence[np.ndarray],
    n_vocab: int,
    k1: float = 1.2,
    b: float = 0.75,
    method: BM25Method = "lucene",
    dtype: str = "float32",
) -> dict[str, np.ndarray | int]:
    """Per-(document, term) BM25 weights of ``docs`` (each a 1-D array of term ids < ``n_vocab``), as the
    CSC arrays bm25s keeps in ``BM25.scores``: ``data``, ``indices`` (document), ``indptr`` (per term),
    ``num_docs``. Shape (n_docs, n_vocab)."""
    n_docs = len(docs)
    lengths = np.asarray([len(d) for d in docs], dtype=np.int64)  # (D,)
    flat = np.concatenate(docs).astype(np.int64) if n_docs and lengths.sum() else np.zeros(0, np.int64)
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)  # (T,)
    pair = doc_of * n_vocab + flat
    pairs, tf = np.unique(pair, return_counts=True)  # (P,), (P,)
    pair_doc, pair_term = np.divmod(pairs, n_vocab)
    df = np.bincount(pair_term, minlength=n_vocab)  # (V,)
    idf = bm25_idf(df, n_docs, method)
    avg_len = float(lengths.mean()) if n_docs else 0.0
    weights = idf[pair_term] * bm25_tfc(tf, lengths[pair_doc], avg_len, k1, b, method)
    matrix = sp.csc_matrix(
        (weights.astype(dtype), (pair_doc, pair_term)), shape=(n_docs, n_vocab), dtype=dtype
    )
    matrix.sort_indices()
    return {"data": matrix.data, "indices": matrix.indices, "indptr": matrix.indptr, "num_docs": n_docs}
