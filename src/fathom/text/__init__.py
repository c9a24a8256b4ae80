"""Text processing for search: analysers (English, Chinese, mixed) and pretrained text encoders."""

from fathom.text.analysis import (
    Analyzer,
    ChineseAnalyzer,
    EnglishAnalyzer,
    MixedAnalyzer,
    choose_analyzer,
    cjk_share,
    get_analyzer,
    resolve_analyzer,
)
from fathom.text.cache import EmbeddingCache
from fathom.text.encoders import CachedEncoder, E5Encoder, Encoder, MiniLMEncoder, get_encoder

__all__ = [
    "Analyzer",
    "CachedEncoder",
    "ChineseAnalyzer",
    "E5Encoder",
    "EmbeddingCache",
    "Encoder",
    "EnglishAnalyzer",
    "MiniLMEncoder",
    "MixedAnalyzer",
    "choose_analyzer",
    "cjk_share",
    "get_analyzer",
    "get_encoder",
    "resolve_analyzer",
]
