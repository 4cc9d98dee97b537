"""Train one experiment: Adam, max-margin losses, validation, best checkpoint, resume.

``python -m model.train --config FILE [--settings JSON] --experiment NAME
--train work/samples/<pooling>/train.h5 --val work/samples/<pooling>/val.h5 --out-dir work/models/NAME``

Writes (atomically) ``best.pt`` (model, run config, selected epoch, validation metric),
``last.pt`` (everything needed to resume: model, optimizer, RNG states, log) after every epoch, and
``train_log.csv``; with ``train.repeats: N`` the entry point trains N models one after the other, repeat
k with the seed :func:`model.config.repeat_seed` gives, into ``repeat<k>/`` of the out-dir (repeat 0
into the out-dir itself). A rerun resumes from ``last.pt`` when its run config matches (the epoch count
may grow); otherwise it starts over. Given the seed, an interrupted and resumed run ends with the
same weights as an uninterrupted one (on the same device).
"""
from __future__ import annotations

import copy
import csv
import io
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from model.checkpoint import (CHECKPOINT_VERSION, CheckpointError, build_model, read_checkpoint, save_checkpoint,
                              shard_signature)
from model.config import RunConfig
from model.data import iterate_batches
from model.evaluate import evaluate_model, selection_value
from model.losses import compute_loss, hard_negatives_active
from pipeline.devices import resolve_device
from pipeline.errors import PipelineError
from pipeline.formats.shard import SampleShard
from pipeline.paths import repeat_dir
from pipeline.provenance import sha256_files

LOG = logging.getLogger("model.train")


def _rng_state(np_rng: np.random.Generator, generator: torch.Generator) -> dict[str, Any]:
    state = {"numpy": np_rng.bit_generator.state, "torch": torch.get_rng_state(), "generator": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict[str, Any], np_rng: np.random.Generator, generator: torch.Generator) -> None:
    np_rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _write_log(path: Path, rows: list[dict[str, Any]]) -> None:
    from pipeline.h5io import write_text_atomic

    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())


def train_model(run: RunConfig, train_path: Path, val_path: Path, out_dir: Path, *,
                device: torch.device | None = None, stop_after_epochs: int | None = None,
                progress: bool = True) -> dict[str, Any]:
    """Train (or resume) the experiment; return a summary with the best epoch and metric.

    ``stop_after_epochs`` ends this call after that many epochs (an interruption between epochs,
    for tests); a later call resumes.
    """
    from tqdm import tqdm

    device = device or resolve_device(run.train.device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    best_path, last_path, log_path = out_dir / "best.pt", out_dir / "last.pt", out_dir / "train_log.csv"
    train_shard, val_shard = SampleShard(train_path), SampleShard(val_path)
    signature = shard_signature(train_shard)
    if shard_signature(val_shard) != signature:
        raise PipelineError(f"{val_path}: feature dims, classes or pooling differ from {train_path}")
    # sha256 over the shards' bytes: a resumed run must see exactly the same data.
    fingerprint = sha256_files([Path(train_path), Path(val_path)])

    torch.manual_seed(run.seed)
    np_rng = np.random.default_rng(run.seed)
    generator = torch.Generator(device=device).manual_seed(run.seed)
    model = build_model(run, signature).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=run.train.lr, weight_decay=run.train.weight_decay)
    start_epoch, log_rows = 0, []
    best = {"epoch": None, "metric": None, "value": -math.inf}
    best_payload: dict[str, Any] | None = None  # best.pt's content, also kept in last.pt

    if last_path.is_file():
        try:
            state = read_checkpoint(last_path)
            compatible = state.get("identity") == run.identity() and state.get("shard") == signature \
                and state.get("data") == fingerprint
        except CheckpointError as exc:  # a damaged or refused last.pt: start over rather than fail
            LOG.warning("%s; starting from scratch", exc)
            compatible = False
        if compatible:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            _restore_rng(state["rng"], np_rng, generator)
            start_epoch, log_rows, best = state["epoch"], state["log"], state["best"]
            best_payload = state.get("best_payload")
            LOG.info("resuming %s from epoch %d (%s)", run.experiment.name, start_epoch, last_path)
            # Outputs removed since (e.g. by Snakemake before a rerun) are restored from last.pt.
            if best_payload is not None and not best_path.is_file():
                save_checkpoint(best_path, best_payload)
            if log_rows and not log_path.is_file():
                _write_log(log_path, log_rows)
        else:
            LOG.warning("%s: from another configuration or other data; starting from scratch", last_path)

    epochs = run.train.epochs
    end_epoch = epochs if stop_after_epochs is None else min(epochs, start_epoch + stop_after_epochs)
    LOG.info("training %s (task %s) on %d samples, validating on %d, epochs %d..%d, device %s",
             run.experiment.name, run.experiment.task, len(train_shard), len(val_shard), start_epoch + 1,
             end_epoch, device)
    bar = tqdm(range(start_epoch, end_epoch), desc=run.experiment.name, unit="epoch", disable=not progress,
               initial=start_epoch, total=epochs)
    for epoch in bar:
        started = time.time()
        model.train()
        totals: dict[str, float] = {}
        batches = 0
        for batch in iterate_batches(train_shard, run.experiment, run.train.batch_size, rng=np_rng,
                                     grouping=run.train.batching):
            if batch.size < 2:  # LIReC skips batches of one sample
                continue
            batch = batch.to(device)
            loss, parts = compute_loss(run, model(batch), batch, epoch, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            batches += 1
            for name, value in {"loss": float(loss.detach()), **parts}.items():
                totals[name] = totals.get(name, 0.0) + value
        row: dict[str, Any] = {"epoch": epoch + 1, **{k: v / max(batches, 1) for k, v in totals.items()},
                               "hard_negatives": hard_negatives_active(run, epoch)}
        if (epoch + 1) % run.train.eval_every == 0 or epoch + 1 == epochs:
            metrics = evaluate_model(model, val_shard, run, device)
            name, value = selection_value(run, metrics)
            row.update({f"val_{k}": m.accuracy for k, m in metrics.items()})
            LOG.info("epoch %d: loss %.4f, validation %s %.2f (%s)", epoch + 1, row.get("loss", float("nan")), name,
                     value, ", ".join(f"{k} {m.accuracy:.2f}" for k, m in metrics.items()))
            if best["epoch"] is None or value > best["value"]:
                best = {"epoch": epoch + 1, "metric": name, "value": value}
                best_payload = {"version": CHECKPOINT_VERSION, "model": copy.deepcopy(model.state_dict()),
                                "run": run.to_dict(), "shard": signature, "epoch": epoch + 1, "metric": name,
                                "value": value, "val_metrics": {k: m.to_dict() for k, m in metrics.items()}}
                save_checkpoint(best_path, best_payload)
            bar.set_postfix(loss=f"{row.get('loss', float('nan')):.4f}", val=f"{value:.2f}",
                            best=f"{best['value']:.2f}@{best['epoch']}")
        else:
            bar.set_postfix(loss=f"{row.get('loss', float('nan')):.4f}")
        row["seconds"] = round(time.time() - started, 3)
        log_rows.append(row)
        save_checkpoint(last_path, {"version": CHECKPOINT_VERSION, "model": model.state_dict(),
                          "optimizer": optimizer.state_dict(), "rng": _rng_state(np_rng, generator),
                          "epoch": epoch + 1, "log": log_rows, "best": best, "identity": run.identity(),
                          "run": run.to_dict(), "shard": signature, "data": fingerprint,
                          "best_payload": best_payload})
        _write_log(log_path, log_rows)
    bar.close()
    train_shard.close()
    val_shard.close()
    if best["epoch"] is not None:
        LOG.info("%s: best %s %.2f at epoch %d", run.experiment.name, best["metric"], best["value"], best["epoch"])
    return {"best": best, "epochs_done": end_epoch, "log": log_rows}


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.cli import stage_main

    def arguments(parser) -> None:
        parser.add_argument("--experiment", required=True, help="an entry of the config's experiments")
        parser.add_argument("--train", required=True, type=Path, help="work/samples/<pooling>/train.h5")
        parser.add_argument("--val", required=True, type=Path, help="work/samples/<pooling>/val.h5")
        parser.add_argument("--out-dir", required=True, type=Path,
                            help="work/models/<experiment> (repeats after the first in repeat<k>/ inside it)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def run(settings: RunConfig, args) -> None:
        for repeat in range(settings.train.repeats):  # train.repeats models, one after the other
            out_dir = repeat_dir(args.out_dir, repeat)
            run_of_repeat = settings.for_repeat(repeat)
            if settings.train.repeats > 1:
                LOG.info("repeat %d (%d of %d): seed %d -> %s", repeat, repeat + 1, settings.train.repeats,
                         run_of_repeat.seed, out_dir)
            summary = train_model(run_of_repeat, args.train, args.val, out_dir, progress=not args.no_progress)
            if summary["best"]["epoch"] is None:
                raise PipelineError(f"{out_dir}: no validation ran, so no best checkpoint was written")

    return stage_main("train", run, description=__doc__.split("\n")[0], arguments=arguments,
                      wildcards=lambda args: {"experiment": args.experiment}, threads=True, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
