"""A saved search index built with another encoder than the configured one is rebuilt, not silently reused."""

from __future__ import annotations

from fathom.online.engine import Engine, EngineConfig
from tests.retrieval.doubles import HashingEncoder
from tests.service.synthetic import prepare_folder


def test_index_saved_without_an_encoder_is_rebuilt_when_one_is_configured(tmp_path):
    folder = prepare_folder(tmp_path)
    lexical = Engine.open(folder, EngineConfig(encoder=None))
    assert lexical.index.config.encoder is None and lexical.index.vectors is None
    lexical.close()

    dense = Engine.open(folder, EngineConfig(encoder="minilm"), encoder=HashingEncoder())
    assert dense.index.config.encoder == "minilm"
    assert dense.index.vectors is not None and len(dense.index.vectors) > 0  # every item encoded
    dense.close()

    again = Engine.open(folder, EngineConfig(encoder="minilm"), encoder=HashingEncoder())  # now the saved one fits
    assert again.index.config.encoder == "minilm" and again.index.vectors is not None
    again.close()
