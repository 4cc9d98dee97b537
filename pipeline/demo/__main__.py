"""Make the synthetic demo dataset in the MovieGraphs layout.

    python -m pipeline.demo --config workflow_config.yaml [--settings JSON] [--root DIR] [--size tiny]
                            [--seed N] [--workers N]

Reads ``demo.size``, ``demo.seed``, ``demo.knobs`` and the ``dataset`` paths of the config; writes
everything under ``dataset.root`` (or ``--root``), atomically as a whole.
"""
from __future__ import annotations

import os
import sys

from pipeline.cli import stage_main
from pipeline.demo.generate import DemoSettings, generate_dataset
from pipeline.demo.sizes import DEMO_SIZES


def main(argv: list[str] | None = None) -> int:
    def arguments(parser) -> None:
        parser.add_argument("--root", default=None, help="output folder (default: dataset.root)")
        parser.add_argument("--size", default=None, choices=sorted(DEMO_SIZES), help="size preset (default: demo.size)")
        parser.add_argument("--seed", type=int, default=None, help="generator seed (default: demo.seed)")
        parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                            help="parallel worker processes (output does not depend on it)")

    def run(settings: DemoSettings, args) -> None:
        generate_dataset(args.root or settings.dataset["root"], settings.dataset, args.size or settings.size,
                         settings.seed if args.seed is None else args.seed, settings.knobs,
                         workers=max(1, args.workers))

    return stage_main("demo", run, description=__doc__.splitlines()[0], arguments=arguments, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
