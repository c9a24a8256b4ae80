import numpy as np
import pytest

from fathom.text.cache import EmbeddingCache, text_key
from fathom.text.encoders import CachedEncoder, Encoder, l2_normalise
from tests.retrieval.doubles import HashingEncoder


def test_encode_is_normalised_and_keeps_order():
    enc = HashingEncoder(dim=16)
    texts = ["a long text with many words", "short", "", "middle size text"]
    out = enc.encode(texts, batch_size=2)
    assert out.shape == (4, 16) and out.dtype == np.float32
    norms = np.linalg.norm(out, axis=1)
    np.testing.assert_allclose(norms[[0, 1, 3]], 1.0, rtol=1e-5)
    assert norms[2] == 0.0  # empty text: zero vector, not NaN
    np.testing.assert_allclose(out[1], l2_normalise(enc._encode_batch(["short"], "passage"))[0], rtol=1e-6)


def test_cache_round_trip_and_reuse(tmp_path):
    inner = HashingEncoder(dim=8)
    enc = CachedEncoder(inner, root=tmp_path, chunk_size=2)
    first = enc.encode(["x y", "z", "x y", "w"])
    calls = inner.calls
    again = CachedEncoder(HashingEncoder(dim=8), root=tmp_path)  # fresh process: reads the chunks
    second = again.encode(["w", "x y", "z"])
    assert again.inner.calls == 0
    np.testing.assert_allclose(second, first[[3, 0, 1]])
    assert calls >= 1
    files = list(tmp_path.rglob("*.npy"))
    assert files and all(np.load(f, allow_pickle=False) is not None for f in files)
    assert len(EmbeddingCache(tmp_path, inner.name)) == 3


def test_query_embeddings_are_not_cached_by_default(tmp_path):
    inner = HashingEncoder(dim=8)
    enc = CachedEncoder(inner, root=tmp_path)
    enc.encode(["q"], kind="query")
    enc.encode(["q"], kind="query")
    assert inner.calls == 2


def test_text_key_is_sha256():
    assert text_key("abc") == b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.slow
def test_minilm_and_e5_encoders_rank_the_paraphrase_first():
    from fathom.text.encoders import E5Encoder, MiniLMEncoder

    docs = ["The cat sat on the mat.", "Stock markets fell sharply today.", "巴黎是法国的首都。"]
    for enc in (MiniLMEncoder(), E5Encoder()):
        d = enc.encode(docs)
        q = enc.encode(["a kitten resting on a rug"], kind="query")[0]
        assert d.shape == (3, 384)
        assert int(np.argmax(d @ q)) == 0
    e5 = E5Encoder()
    q = e5.encode(["法国的首都是哪里"], kind="query")[0]
    assert int(np.argmax(e5.encode(docs) @ q)) == 2


def test_minilm_direct_path_matches_sentence_transformers():
    from fathom.text.encoders import MiniLMEncoder

    enc = MiniLMEncoder()
    assert enc._direct is not None  # BERT + mean pooling + normalise: the pipeline all-MiniLM-L6-v2 ships
    texts = ["toy story", "a much longer text about red running shoes, sizes and prices " * 3, "猫", ""]
    reference = enc._model.encode(texts, batch_size=4, convert_to_numpy=True, normalize_embeddings=True)
    np.testing.assert_allclose(enc.encode(texts, batch_size=4), reference, atol=2e-6)  # padded in one batch
    np.testing.assert_allclose(enc.encode_query("toy story"), reference[0], atol=2e-6)  # traced: one text
    assert enc._direct.traced is not None and not enc._direct.trace_failed
    assert enc._direct.trace_batches  # the padded check passed: the batch above went through the trace too
    for i, text in enumerate(texts):  # the trace follows any length, including the longest and the empty text
        np.testing.assert_allclose(enc.encode_query(text), reference[i], atol=2e-6)


def test_a_minilm_folder_other_than_the_bundled_one_has_a_name_of_its_own(tmp_path):
    """The embedding cache is keyed by encoder name: an adapted copy must never be served the base's vectors."""
    from fathom.text.encoders import minilm_model_path, model_name

    assert model_name(None) == model_name(minilm_model_path()) == "all-MiniLM-L6-v2"
    other, again = model_name(tmp_path / "adapted"), model_name(tmp_path / "adapted")
    assert other.startswith("all-MiniLM-L6-v2@adapted-") and other == again
    assert model_name(tmp_path / "x" / "adapted") != other  # same folder name elsewhere: another model


def test_encode_items_counts_what_the_cache_already_held(tmp_path):
    from fathom.text.item_text import encode_items

    class Lengths(Encoder):
        name, dim = "lengths", 2

        def _encode_batch(self, texts, kind):
            return np.array([[len(t), 1.0] for t in texts], np.float32)

    encoder = CachedEncoder(Lengths(), root=tmp_path)
    first = encode_items(["a stapler", "", "staples"], encoder, progress=False)
    assert (first.cached, first.empty) == (0, 1) and not first.vectors[1].any()
    again = encode_items(["a stapler", "staples", "glue"], encoder, progress=False)
    assert again.cached == 2 and encoder.cached(["glue", "tape"]) == 1
