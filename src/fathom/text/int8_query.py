"""Short texts through an int8 copy of a mean-pooled BERT (ONNX Runtime, dynamic quantisation).

On one CPU core a query of a few words spends nearly all of all-MiniLM-L6-v2's time in the matrix products of
its six layers (10.6 M weights read for every query). :class:`Int8Bert` runs the same network with int8 weights
(per output channel) and activations quantised per call, in well under half the float32 time; its vectors are
close to, not equal to, the float32 ones (cosine above 0.97, tested; retrieval quality and latency of both are in
``benchmarks/results/search_beir.md``, methods ``*-minilm-int8`` beside ``*-minilm``). Only queries use it:
documents keep their float32 vectors, so an index needs no rebuild to switch.

The network is exported to ONNX, quantised and written under ``<cache>/models/`` on first use (a few seconds),
named by a fingerprint of its weights and the versions involved; later processes load the file. Nothing is
pickled. If the export or the runtime fails, :func:`int8_copy` returns None and the caller stays in float32.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np
import torch

from fathom.text.pooled_bert import PooledBert

log = logging.getLogger(__name__)
#: cosine below which a padded batch through the int8 copy counts as broken (then only single texts use it)
MIN_BATCH_COSINE = 0.97
_BUILD_LOCK = threading.Lock()


def fingerprint(net: torch.nn.Module) -> str:
    """sha256 over the network's parameter names, shapes and bytes, plus the library versions used here."""
    import onnxruntime

    h = hashlib.sha256(f"torch={torch.__version__};ort={onnxruntime.__version__};int8-per-channel-v1".encode())
    for name, tensor in net.state_dict().items():
        h.update(f"{name}:{tuple(tensor.shape)}".encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:20]


def export_int8(pooled: PooledBert, path: Path) -> None:
    """Export ``pooled.net`` to ONNX (dynamic batch and length) and write its int8 quantisation at ``path``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        sample = pooled._inputs(["a short text to export the encoder", "two words"])
        axes = {name: {0: "batch", 1: "tokens"} for name in ("ids", "mask", "types")} | {"vec": {0: "batch"}}
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(pooled.net, sample, str(fp32), input_names=["ids", "mask", "types"],
                              output_names=["vec"], dynamic_axes=axes, opset_version=17, dynamo=False)
        part = Path(tmp) / "int8.onnx"
        quantize_dynamic(str(fp32), str(part), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(part, path)  # atomic: a concurrent process sees the whole file or none


class Int8Bert:
    """texts -> (B, d) float32 unit rows through the int8 ONNX copy of ``pooled``'s network."""

    def __init__(self, pooled: PooledBert, model_file: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = max(1, threads)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.pooled, self.model_file = pooled, model_file
        self.batches = True  # padded batches give the float32 answers' directions too (checked by int8_copy)

    def __call__(self, texts: list[str]) -> np.ndarray:
        if len(texts) > 1 and not self.batches:
            return np.concatenate([self([t]) for t in texts])
        ids, mask, types = (x.cpu().numpy() for x in self.pooled._inputs(texts))
        out = self.session.run(None, {"ids": ids, "mask": mask, "types": types})[0]  # (B, d)
        out = np.asarray(out, dtype=np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def int8_copy(pooled: PooledBert, cache_root: Path, threads: int | None = None) -> Int8Bert | None:
    """The int8 copy of ``pooled`` (built and stored under ``cache_root/models`` if missing), checked against
    the float32 network on a padded batch; None when onnxruntime is missing or the export fails."""
    try:
        with _BUILD_LOCK:
            path = cache_root / "models" / f"pooled-bert-{fingerprint(pooled.net)}.int8.onnx"
            if not path.exists():
                log.info("building the int8 query encoder at %s", path)
                export_int8(pooled, path)
            int8 = Int8Bert(pooled, path, threads if threads is not None else torch.get_num_threads())
        check = ["two words", "a longer text, so that the first one is padded to the length of this one"]
        cosine = (int8(check) * pooled(check)).sum(1)  # (2,)
        int8.batches = bool(cosine.min() >= MIN_BATCH_COSINE)
        return int8
    except Exception as exc:  # noqa: BLE001 - any export/runtime problem: the caller keeps float32
        log.warning("int8 query encoder unavailable (%s: %s); queries stay in float32", type(exc).__name__, exc)
        return None
