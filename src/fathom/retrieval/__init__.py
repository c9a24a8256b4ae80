"""Search: BM25 (bm25s), dense vector retrieval, hybrid fusion, a filterable catalogue index, query understanding,
personalisation by a recommender, cross-encoder reranking, BEIR evaluation."""

from fathom.retrieval.beir import BeirCollection, hash_split, load_beir, split_queries
from fathom.retrieval.evaluation import MethodResult, SearchEvalConfig, evaluate_collection, results_table
from fathom.retrieval.filters import SearchFilter, parse_filters
from fathom.retrieval.fusion import convex_fusion, fuse, minmax, rrf_fusion
from fathom.retrieval.hybrid import Hit, HybridConfig, Reranker, hybrid_search
from fathom.retrieval.lexical import LexicalConfig, LexicalIndex
from fathom.retrieval.personalise import Personaliser
from fathom.retrieval.query_understanding import QueryUnderstanding, QueryUnderstandingConfig, understand_query
from fathom.retrieval.rerank import CrossEncoder, CrossEncoderConfig, CrossEncoderReranker, RerankConfig
from fathom.retrieval.search_index import Document, SearchIndex, SearchIndexConfig, SearchResult
from fathom.retrieval.vector_index import ExactIndex, HNSWIndex, VectorIndex, ann_recall_at_k, build_vector_index

__all__ = [
    "BeirCollection",
    "CrossEncoder",
    "CrossEncoderConfig",
    "CrossEncoderReranker",
    "Document",
    "ExactIndex",
    "HNSWIndex",
    "Hit",
    "HybridConfig",
    "LexicalConfig",
    "LexicalIndex",
    "MethodResult",
    "Personaliser",
    "QueryUnderstanding",
    "QueryUnderstandingConfig",
    "RerankConfig",
    "Reranker",
    "SearchEvalConfig",
    "SearchFilter",
    "SearchIndex",
    "SearchIndexConfig",
    "SearchResult",
    "VectorIndex",
    "ann_recall_at_k",
    "build_vector_index",
    "convex_fusion",
    "evaluate_collection",
    "fuse",
    "hybrid_search",
    "hash_split",
    "load_beir",
    "minmax",
    "parse_filters",
    "results_table",
    "rrf_fusion",
    "split_queries",
    "understand_query",
]
