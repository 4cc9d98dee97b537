"""Make the synthetic demo dataset in the MovieGraphs layout.

    python -m pipeline.demo --config workflow_config.yaml [--settings JSON] [--root DIR] [--size tiny]
                            [--workers N]

Reads ``demo.size``, ``demo.seed``, ``demo.knobs`` and the ``dataset`` paths of the config; writes
everything under ``dataset.root`` (or ``--root``), atomically as a whole.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from pipeline.config import ConfigError, settings_from_cli
from pipeline.demo.generate import generate_dataset
from pipeline.demo.knobs import DemoKnobs
from pipeline.demo.sizes import DEMO_SIZES
from pipeline.h5io import exit_cleanly_on_sigterm

log = logging.getLogger("pipeline.demo")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="workflow_config.yaml (default: the repository's)")
    parser.add_argument("--settings", default=None, help="JSON of config overrides (Snakemake passes these)")
    parser.add_argument("--root", default=None, help="output folder (default: dataset.root)")
    parser.add_argument("--size", default=None, choices=sorted(DEMO_SIZES), help="size preset (default: demo.size)")
    parser.add_argument("--seed", type=int, default=None, help="generator seed (default: demo.seed)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="parallel worker processes (output does not depend on it)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    exit_cleanly_on_sigterm()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    try:
        config = settings_from_cli(args.config, args.settings)
        demo = config["demo"]
        knobs = DemoKnobs.from_overrides(demo.get("knobs"))
        size = args.size or demo["size"]
        seed = demo["seed"] if args.seed is None else args.seed
        root = args.root or config["dataset"]["root"]
        generate_dataset(root, config["dataset"], size, seed, knobs, workers=max(1, args.workers))
    except (ConfigError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
