"""Fine-tuning the pretrained bi-encoder (all-MiniLM-L6-v2) on (anchor text, positive text) pairs.

The pairs are any two strings that should embed close together: an item and the next item a user chose
(:mod:`fathom.models.behaviour_pairs`), or a query and a document a user clicked. Training is contrastive with
in-batch negatives (the multiple-negatives ranking loss, symmetric by default): in a batch of B pairs, anchor i
must pick positive i among the B positives, and positive i anchor i among the B anchors, with cosine similarities
times ``scale`` as logits. A pair j that is a true match for i too (same anchor text or same positive text) is
masked out of i's negatives (:func:`in_batch_loss`).

Two methods (:class:`FinetuneConfig` ``method``):

- ``full``: every weight of BERT trains (optionally all but the word embeddings).
- ``lora``: low-rank adapters (``peft``) on the attention query/value projections, or on every linear layer of
  the encoder; the rest stays frozen. On saving, the adapters are merged into the weights, so the saved folder
  is a plain sentence-transformers folder the size of the base model.

:func:`finetune_encoder` trains and saves; :class:`Finetuner` does the same in steps (``fit``, ``encode`` with
the in-memory model, ``save``). A saved folder holds ``model.safetensors`` (no pickle files) plus
``fathom_finetune.json`` (base, method, config, pairs, epochs, trainable parameters, loss per epoch, the
weights' SHA-256). :func:`load_finetuned` loads it offline as a :class:`~fathom.text.encoders.MiniLMEncoder`
whose ``name`` is derived from the folder and the weights' hash, so an embedding cache never hands out the
frozen encoder's vectors (or another adaptation's) for it.

Training truncates texts to ``max_seq_length`` word pieces (speed); encoding afterwards uses the base model's own
limit (256 for MiniLM), as the frozen encoder does, unless ``encode_max_seq_length`` sets another (it is saved).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from tqdm.auto import tqdm

from fathom.config import Config
from fathom.text.encoders import CachedEncoder, Encoder, MiniLMEncoder, l2_normalise, minilm_model_path

INFO_FILE = "fathom_finetune.json"
#: LoRA targets: BERT's attention query/value projections, or every linear layer inside the encoder blocks
#: (query, key, value, attention output, intermediate, output; the unused pooler is left out)
LORA_TARGETS = {"attention": ["query", "value"], "all_linear": r".*encoder\.layer\.\d+\..*(query|key|value|dense)$"}
DEFAULT_LR = {"full": 3e-5, "lora": 5e-4}


class FinetuneConfig(Config):
    """How the encoder is fine-tuned. ``lr`` None takes the method's default (full 3e-5, LoRA 5e-4)."""

    method: Literal["full", "lora"] = "lora"
    lora_rank: int = Field(8, ge=1, le=256, description="rank r of each LoRA update")
    lora_alpha: float = Field(16.0, gt=0, description="LoRA scaling numerator (the update is scaled by alpha / r)")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="dropout on the LoRA branch's input")
    lora_targets: Literal["attention", "all_linear"] = Field(
        "attention", description="attention: query and value projections; all_linear: every linear layer")
    freeze_embeddings: bool = Field(False, description="full: keep the word/position embeddings frozen")
    lr: float | None = Field(None, gt=0, lt=1, description="peak learning rate; None: the method's default")
    weight_decay: float = Field(0.01, ge=0)
    warmup: float = Field(0.1, ge=0, lt=1, description="share of the steps with a rising rate, then linear decay")
    grad_clip: float | None = Field(1.0, gt=0, description="clip the gradients' global norm; None: no clipping")
    epochs: int = Field(1, ge=1, le=100)
    batch_size: int = Field(32, ge=2, description="pairs per step (each pair's negatives: the batch's others)")
    max_seq_length: int = Field(128, ge=8, le=512, description="word pieces kept of each text while training")
    encode_max_seq_length: int | None = Field(
        None, ge=8, le=512, description="word pieces the saved encoder reads of a text; None: the base's (256)")
    scale: float = Field(20.0, gt=0, description="logit = scale * cosine (a temperature of 1 / scale)")
    symmetric: bool = Field(True, description="also rank the anchors for each positive")
    max_pairs: int | None = Field(20_000, ge=1, description="seeded sample of at most this many pairs; None: all")
    max_minutes: float | None = Field(None, gt=0, description="stop after the step that passes this wall clock")
    seed: int = 0

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.method]


class FinetuneReport(Config):
    """What a fine-tuning run did and cost. ``peak_rss_mb``: the process's peak resident set (Linux ru_maxrss),
    which includes whatever the process held before training."""

    method: Literal["full", "lora"]
    base: str
    pairs: int
    epochs: int = Field(description="epochs run (fewer than configured if max_minutes stopped it)")
    steps: int
    trainable_params: int
    total_params: int
    trainable_share: float
    seconds_per_epoch: list[float]
    loss_per_epoch: list[float]
    peak_rss_mb: float
    stopped: Literal["epochs", "max_minutes"]
    config: FinetuneConfig
    out_dir: str | None = None
    encoder_name: str | None = None


def in_batch_loss(anchors: torch.Tensor, positives: torch.Tensor, scale: float, anchor_ids: torch.Tensor,
                  positive_ids: torch.Tensor, symmetric: bool = True) -> torch.Tensor:
    """Multiple-negatives ranking loss. anchors, positives: (B, d) unit rows; *_ids: (B,) text ids (equal ids =
    equal texts). Pair j is left out of pair i's negatives when it shares i's anchor or i's positive."""
    logits = scale * anchors @ positives.T  # (B, B)
    same = (anchor_ids[:, None] == anchor_ids[None, :]) | (positive_ids[:, None] == positive_ids[None, :])  # (B, B)
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(anchors), device=anchors.device)  # (B,)
    loss = F.cross_entropy(logits, target)
    if symmetric:
        loss = (loss + F.cross_entropy(logits.T, target)) / 2
    return loss


def linear_rate(step: int, warm: int, total: int) -> float:
    """Share of the peak learning rate at ``step``: rising over ``warm`` steps, then falling to 0 at ``total``."""
    if step < warm:
        return (step + 1) / warm
    return max(0.0, (total - step) / max(1, total - warm))


def _text_ids(texts: Sequence[str]) -> np.ndarray:
    """(N,) int64: equal texts share an id."""
    index: dict[str, int] = {}
    return np.array([index.setdefault(t, len(index)) for t in texts], dtype=np.int64)


def peak_rss_mb() -> float:
    """The process's peak resident set in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if os.uname().sysname == "Darwin" else peak / 1024


class Finetuner:
    """Fine-tunes a sentence-transformers BERT (transformer -> mean pooling -> normalise) on text pairs."""

    def __init__(self, config: FinetuneConfig | None = None, base: str | Path | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.config = config or FinetuneConfig()
        self.base = Path(base) if base is not None else minilm_model_path()
        torch.manual_seed(self.config.seed)
        self.st = SentenceTransformer(str(self.base), device="cpu")
        self.tokenizer = self.st.tokenizer
        if self.config.encode_max_seq_length is not None:
            self.st.max_seq_length = self.config.encode_max_seq_length
        self.infer_len = int(self.st.max_seq_length)
        self.net: Any = self.st[0].auto_model
        if self.config.method == "lora":
            try:
                from peft import LoraConfig, get_peft_model
            except ImportError:
                raise ImportError("method 'lora' needs the peft package: pip install 'fathom[finetune]'") from None

            c = self.config
            lora = LoraConfig(r=c.lora_rank, lora_alpha=c.lora_alpha, lora_dropout=c.lora_dropout,
                              target_modules=LORA_TARGETS[c.lora_targets], bias="none")
            self.net = get_peft_model(self.net, lora)
        elif self.config.freeze_embeddings:
            for p in self.net.embeddings.parameters():
                p.requires_grad_(False)
        self.merged = False
        self.report: FinetuneReport | None = None

    @property
    def trainable_params(self) -> int:
        return sum(p.numel() for p in self.net.parameters() if p.requires_grad)

    @property
    def total_params(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def _embed(self, texts: Sequence[str], max_len: int) -> torch.Tensor:
        """texts -> (B, d) unit rows: BERT's last hidden states averaged over the attention mask."""
        b = self.tokenizer(list(texts), padding=True, truncation=True, max_length=max_len, return_tensors="pt")
        states = self.net(**b).last_hidden_state  # (B, T, d)
        mask = b["attention_mask"].unsqueeze(-1).to(states.dtype)  # (B, T, 1)
        return F.normalize((states * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=1)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """The current (in-memory) model's vectors: (N, d) float32 unit rows, texts cut at the base's limit."""
        texts = list(texts)
        self.net.eval()
        out = np.zeros((len(texts), self.st.get_embedding_dimension() or 384), np.float32)  # (N, d)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                out[idx] = self._embed([texts[i] for i in idx], self.infer_len).numpy()
        return l2_normalise(out)

    def fit(self, pairs: Sequence[tuple[str, str]], progress: bool = True) -> FinetuneReport:
        """Train on ``pairs`` ((anchor, positive) strings; a seeded sample of ``max_pairs`` when more)."""
        c = self.config
        if self.merged:
            raise RuntimeError("this Finetuner was saved (its adapters merged); start a new one to train again")
        pairs = [(str(a), str(p)) for a, p in pairs]
        if len(pairs) < 2:
            raise ValueError(f"need at least 2 pairs (in-batch negatives), got {len(pairs)}")
        rng = np.random.default_rng(c.seed)
        if c.max_pairs is not None and len(pairs) > c.max_pairs:
            pairs = [pairs[i] for i in np.sort(rng.choice(len(pairs), c.max_pairs, replace=False))]
        anchors, positives = [a for a, _ in pairs], [p for _, p in pairs]
        anchor_ids, positive_ids = torch.from_numpy(_text_ids(anchors)), torch.from_numpy(_text_ids(positives))
        batch = min(c.batch_size, len(pairs))
        per_epoch = max(1, len(pairs) // batch)  # the last incomplete batch is dropped (it is reshuffled later)
        total_steps = per_epoch * c.epochs
        params = [p for p in self.net.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=c.learning_rate, weight_decay=c.weight_decay)
        warm = int(c.warmup * total_steps)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: linear_rate(s, warm, total_steps))
        torch.manual_seed(c.seed)
        start_all, steps, stopped = time.perf_counter(), 0, "epochs"
        seconds, losses = [], []
        for epoch in range(c.epochs):
            self.net.train()
            order = rng.permutation(len(pairs))
            t0, total, n = time.perf_counter(), 0.0, 0
            bar = tqdm(range(per_epoch), desc=f"finetune {c.method} epoch {epoch + 1}/{c.epochs}", unit="step",
                       disable=not progress)
            for step in bar:
                idx = order[step * batch : (step + 1) * batch]
                a = self._embed([anchors[i] for i in idx], c.max_seq_length)  # (B, d)
                p = self._embed([positives[i] for i in idx], c.max_seq_length)  # (B, d)
                t_idx = torch.from_numpy(idx)
                loss = in_batch_loss(a, p, c.scale, anchor_ids[t_idx], positive_ids[t_idx], c.symmetric)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                if c.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(params, c.grad_clip)
                optimiser.step()
                schedule.step()
                steps += 1
                total, n = total + loss.item(), n + 1
                bar.set_postfix(loss=f"{total / n:.4f}")
                if c.max_minutes is not None and time.perf_counter() - start_all > 60 * c.max_minutes:
                    stopped = "max_minutes"
                    break
            bar.close()
            seconds.append(round(time.perf_counter() - t0, 2))
            losses.append(round(total / max(n, 1), 5))
            if stopped == "max_minutes":
                break
        self.net.eval()
        trainable, total_params = self.trainable_params, self.total_params
        self.report = FinetuneReport(
            method=c.method, base=str(self.base), pairs=len(pairs), epochs=len(losses), steps=steps,
            trainable_params=trainable, total_params=total_params,
            trainable_share=round(trainable / total_params, 6), seconds_per_epoch=seconds, loss_per_epoch=losses,
            peak_rss_mb=round(peak_rss_mb(), 1), stopped=stopped, config=c)
        return self.report

    def save(self, out_dir: str | Path) -> FinetuneReport:
        """Write a sentence-transformers folder (safetensors; LoRA merged into the weights) and its JSON."""
        if self.report is None:
            raise RuntimeError("fit the Finetuner before saving it")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if self.config.method == "lora" and not self.merged:
            self.net = self.net.merge_and_unload()
            self.st[0].auto_model = self.net
            self.merged = True
        self.st.save(str(out), create_model_card=False, safe_serialization=True)
        digest = sha256_file(out / "model.safetensors")
        name = adapted_name(out, digest, self.base)
        self.report = self.report.model_copy(update={"out_dir": str(out), "encoder_name": name})
        info = {"format": "fathom-finetuned-encoder/1", "encoder_name": name, "weights_sha256": digest,
                **self.report.to_dict()}
        (out / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return self.report


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def adapted_name(out_dir: Path, digest: str, base: Path) -> str:
    """``<base name>+<folder>-<first 12 hex of the weights' SHA-256>``, e.g. ``all-MiniLM-L6-v2+lora-3f9c...``."""
    base_name = MiniLMEncoder.name if Path(base) == minilm_model_path() else Path(base).name
    return f"{base_name}+{Path(out_dir).name}-{digest[:12]}"


def finetune_encoder(
    pairs: Sequence[tuple[str, str]],
    config: FinetuneConfig | None = None,
    out_dir: str | Path = "runs/finetuned-encoder",
    base: str | Path | None = None,
    progress: bool = True,
) -> FinetuneReport:
    """Fine-tune ``base`` (default: the bundled all-MiniLM-L6-v2) on ``pairs`` and save it to ``out_dir``;
    load it back with :func:`load_finetuned`."""
    tuner = Finetuner(config, base)
    tuner.fit(pairs, progress=progress)
    return tuner.save(out_dir)


def read_info(path: str | Path) -> dict[str, Any]:
    """The ``fathom_finetune.json`` of a saved folder."""
    info_path = Path(path) / INFO_FILE
    if not info_path.is_file():
        raise FileNotFoundError(f"{path}: no {INFO_FILE}; not a folder written by finetune_encoder")
    return json.loads(info_path.read_text(encoding="utf-8"))


def load_finetuned(path: str | Path, cache: bool | str | Path = True, device: str = "cpu") -> Encoder:
    """A fine-tuned folder as an encoder, offline, named after the folder and its weights' hash (the name in its
    JSON); wrapped in an on-disk cache unless ``cache`` is False (a path selects the cache folder)."""
    info = read_info(path)
    encoder = MiniLMEncoder(model_path=path, device=device)
    encoder.name = encoder.query_name = str(info["encoder_name"])
    if cache is False:
        return encoder
    return CachedEncoder(encoder, root=None if cache is True else cache)


__all__ = ["FinetuneConfig", "FinetuneReport", "Finetuner", "finetune_encoder", "in_batch_loss", "load_finetuned",
           "read_info"]
