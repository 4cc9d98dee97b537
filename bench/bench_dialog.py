"""Benchmark of the dialog stage's text encoder: sentences per second on CPU.

``python -m bench.bench_dialog [--sentences 2000] [--batch-size 32] [--threads 1] [--device cpu]
[--model minilm]``

Encodes a deterministic set of dialog-like sentences (1-20 words, half of them paired with a next
person's sentence, as the demo's subtitles) with the default MiniLM BERT, once with the configured
batching (sorted by length) and once one sentence at a time on a subset, and prints sentences/s of
both and their ratio (one run, so the ratio is independent of the machine's load). ``--device cuda``
measures the same on a GPU; ``--model`` takes a BERT folder (as ``dialog.model``).
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

WORDS = ("i you we they he she it what where why how yes no okay well look listen come go stay here "
         "there now never always tell me about your father the money house car night morning doctor "
         "please thank sorry know think want need love hate believe wait stop run call again just "
         "really maybe because tonight tomorrow together nobody everything something").split()


def make_sentences(count: int, seed: int = 0) -> tuple[list[str], list[int | None]]:
    """Dialog-like sentences and next-person partners (every other sentence paired)."""
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(count):
        length = int(rng.integers(1, 21))
        words = [WORDS[k] for k in rng.integers(0, len(WORDS), size=length)]
        texts.append(" ".join(words).capitalize() + str(rng.choice([".", "?", "!"])))
    partners = [k + 1 if k % 2 == 0 and k + 1 < count else None for k in range(count)]
    return texts, partners


def sentences_per_second(encoder, texts, partners) -> float:
    started = time.perf_counter()
    encoder.encode(texts, partners)
    return len(texts) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--unbatched", type=int, default=200, help="sentences of the one-at-a-time run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1, as the rule)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (as dialog.device)")
    parser.add_argument("--model", default="minilm", help="minilm or a BERT folder (as dialog.model)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from extractors.settings import DialogSettings
    from extractors.text_encoder import SentenceEncoder
    from pipeline.config import validate_config

    settings = DialogSettings.from_config(validate_config({"dialog": {"model": args.model, "device": args.device}}))
    if args.threads:
        torch.set_num_threads(args.threads)
    texts, partners = make_sentences(args.sentences)
    started = time.perf_counter()
    batched = SentenceEncoder(**{**settings.encoder_arguments(), "batch_size": args.batch_size})
    single = SentenceEncoder(**{**settings.encoder_arguments(), "batch_size": 1})
    load = (time.perf_counter() - started) / 2
    sentences_per_second(batched, texts[:64], partners[:64])  # warm-up
    rate_batched = sentences_per_second(batched, texts, partners)
    subset = min(args.unbatched, len(texts))
    sub_partners = [p if p is not None and p < subset else None for p in partners[:subset]]
    rate_single = sentences_per_second(single, texts[:subset], sub_partners)
    print(f"model: {batched.name} (layer {batched.layer}, {batched.hidden_size}-d) on {args.device}, "
          f"cpu threads: {torch.get_num_threads()}, model load: {load:.2f}s")
    print(f"batched (batch {args.batch_size}, sorted by length): {rate_batched:8.1f} sentences/s "
          f"({len(texts)} sentences in {len(texts) / rate_batched:.2f}s)")
    print(f"one sentence at a time:                  {rate_single:8.1f} sentences/s ({subset} sentences)")
    print(f"batching speed-up: {rate_batched / rate_single:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
