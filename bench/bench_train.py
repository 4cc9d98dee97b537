"""Training benchmark: samples per second and the share of each step spent waiting for data.

``python -m bench.bench_train [--train work/samples/max/train.h5] [--val work/samples/max/val.h5]
[--experiment int_rel_char_full] [--epochs 6] [--device cpu] [--config workflow_config.yaml]``

Runs :func:`model.train.train_model` on sample shards the workflow made (``make demo`` writes them;
any MovieGraphs shards work too) into a temporary folder, with the batch iterator wrapped so that the
time spent making each batch (reading the shard rows, context sampling, padding) is measured
separately from the step (forward, loss, backward, Adam). Prints samples/s over the training steps
(validation and checkpoint writes excluded, shown apart) and the data-wait share (README
"Performance" target: <= 10%).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="workflow_config.yaml")
    parser.add_argument("--train", default="work/samples/max/train.h5")
    parser.add_argument("--val", default="work/samples/max/val.h5")
    parser.add_argument("--experiment", default="int_rel_char_full")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    for path in (args.train, args.val):
        if not Path(path).is_file():
            raise SystemExit(f"{path}: no sample shard; make the demo's first (`make demo`, or `snakemake "
                             f"--cores 2 {args.train} {args.val}`) or pass --train/--val")
    import torch
    import yaml

    import model.train as train_module
    from model.config import RunConfig
    from pipeline.config import validate_config

    config = validate_config(yaml.safe_load(Path(args.config).read_text(encoding="utf-8")))
    config["train"].update(epochs=args.epochs, device=args.device, eval_every=args.epochs)
    run = RunConfig.from_config(validate_config(config), args.experiment)
    timing = {"data_s": 0.0, "step_s": 0.0, "samples": 0, "batches": 0}
    original = train_module.iterate_batches

    def timed_batches(*a, **k):
        batches = original(*a, **k)
        while True:
            tick = time.perf_counter()
            try:
                batch = next(batches)
            except StopIteration:
                return
            timing["data_s"] += time.perf_counter() - tick
            timing["samples"] += batch.size
            timing["batches"] += 1
            handed = time.perf_counter()
            yield batch   # the caller's step (to device, forward, loss, backward, Adam) runs here
            timing["step_s"] += time.perf_counter() - handed

    train_module.iterate_batches = timed_batches
    try:
        with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
            started = time.perf_counter()
            summary = train_module.train_model(run, Path(args.train), Path(args.val), Path(tmp),
                                               device=torch.device(args.device), progress=False)
            wall = time.perf_counter() - started
    finally:
        train_module.iterate_batches = original
    epoch_s = sum(row["seconds"] for row in summary["log"])
    load = os.getloadavg()
    print(f"training {args.experiment} on {args.device} ({os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}); shard {args.train}, "
          f"batch {run.train.batch_size}, {args.epochs} epochs")
    busy = timing["data_s"] + timing["step_s"]
    print(f"| {'samples':>7s} | {'batches':>7s} | {'data s':>6s} | {'step s':>6s} | {'samples/s':>9s} "
          f"| {'data wait':>9s} | {'epochs s (with val, ckpt)':>25s} |")
    print(f"|{'-' * 9}|{'-' * 9}|{'-' * 8}|{'-' * 8}|{'-' * 11}|{'-' * 11}|{'-' * 27}|")
    # samples/s and the data-wait share over the training steps; epochs s adds validation and checkpoints.
    print(f"| {timing['samples']:7d} | {timing['batches']:7d} | {timing['data_s']:6.2f} | {timing['step_s']:6.2f} "
          f"| {timing['samples'] / busy:9.1f} | {100 * timing['data_s'] / busy:8.1f}% | {epoch_s:25.2f} |")
    print(f"(whole call incl. set-up: {wall:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
