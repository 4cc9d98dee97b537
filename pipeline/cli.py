"""The one command-line front of every stage entry point.

``python -m <stage module> --config FILE [--settings JSON] [stage options]``: the helper parses the
common options, sets up logging and SIGTERM handling, builds the stage's typed settings object from
the validated config (the sections the registry names, :mod:`pipeline.stages`), runs the stage and
turns a :class:`pipeline.errors.PipelineError` into one log line and exit status 2.
"""
from __future__ import annotations

import argparse
import logging
import os
from typing import Any, Callable, Sequence

from pipeline.config import config_from_cli
from pipeline.errors import PipelineError
from pipeline.h5io import exit_cleanly_on_sigterm
from pipeline.stages import STAGES

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def set_torch_threads(threads: int | None) -> None:
    """Cap torch's CPU threads at ``threads`` (and at the machine's cores); None keeps torch's choice."""
    if threads:
        import torch

        torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))


def stage_main(stage: str, run: Callable[[Any, argparse.Namespace], Any], *, description: str,
               arguments: Callable[[argparse.ArgumentParser], None] | None = None,
               wildcards: Callable[[argparse.Namespace], dict[str, Any]] | None = None,
               threads: bool = False, argv: Sequence[str] | None = None) -> int:
    """Run ``run(settings, args)`` as the entry point of ``stage``; return the exit status.

    ``arguments`` adds the stage's own options; ``wildcards`` maps them to the settings' keyword
    arguments (e.g. the experiment name); ``threads`` adds ``--threads`` (torch CPU threads).
    """
    spec = STAGES[stage]
    parser = argparse.ArgumentParser(prog=f"python -m {spec.module}", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=None, help="workflow_config.yaml (default: the repository's)")
    parser.add_argument("--settings", default=None,
                        help="JSON of config sections over the schema defaults (or over --config); "
                             "Snakemake passes the stage's sections, its params.settings")
    if threads:
        parser.add_argument("--threads", type=int, default=None,
                            help="torch CPU threads, capped at the machine's cores (default: torch's own)")
    if arguments is not None:
        arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    log = logging.getLogger(spec.module)
    exit_cleanly_on_sigterm()
    try:
        config = config_from_cli(args.config, args.settings)
        settings = spec.settings_from_config(config, **(wildcards(args) if wildcards else {}))
        if threads:
            set_torch_threads(args.threads)
        run(settings, args)
    except PipelineError as exc:
        log.error("%s", exc)
        return 2
    return 0
