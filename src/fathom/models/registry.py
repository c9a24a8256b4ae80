"""The one place that maps model names to classes."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fathom.models.base import Recommender

# name -> "module:Class"; modules are imported on first use so optional heavy deps load lazily.
_MODELS: dict[str, str] = {
    "pop": "fathom.models.popularity:Popularity",
    "itemknn": "fathom.models.itemknn:ItemKNN",
    "ease": "fathom.models.ease:EASE",
    "bpr": "fathom.models.bpr:BPRMF",
    "neumf": "fathom.models.neumf:NeuMF",
    "lightgcn": "fathom.models.lightgcn:LightGCN",
    "kglightgcn": "fathom.models.kglightgcn:KGLightGCN",
    "multvae": "fathom.models.multvae:MultVAE",
    "sasrec": "fathom.models.sasrec:SASRec",
    "gru4rec": "fathom.models.gru4rec:GRU4Rec",
    "fm": "fathom.models.fm:FM",
    "deepfm": "fathom.models.deepfm:DeepFM",
    "mmoe": "fathom.models.mmoe:MMoE",
    "admmslim": "fathom.models.admmslim:ADMMSLIM",
    "textmean": "fathom.models.textmean:TextMean",
    "textease": "fathom.models.textease:TextEASE",
    "kgease": "fathom.models.kgease:KGEASE",
    "twotower": "fathom.models.twotower:TwoTower",
    "textsasrec": "fathom.models.textseq:TextSeqRec",
}


def model_names() -> list[str]:
    return list(_MODELS)


def get_model_class(name: str) -> type[Recommender]:
    try:
        target = _MODELS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(_MODELS)}") from None
    module, cls = target.split(":")
    return getattr(import_module(module), cls)
