"""Fathom: search and recommendation built on deep models and pretrained language models."""

from fathom.config import Config
from fathom.data.interactions import Interactions
from fathom.models.base import Recommender
from fathom.models.registry import get_model_class, model_names

__version__ = "0.1.0"

__all__ = ["Config", "Interactions", "Recommender", "get_model_class", "model_names", "__version__"]
