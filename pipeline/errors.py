"""The one error base class of the pipeline.

Every error caused by bad input (a config key, a dataset file, a feature file, a checkpoint) is a
:class:`PipelineError` whose message names the file (or key) and what is wrong with it. Entry points
(:mod:`pipeline.cli`) catch exactly this class and exit with status 2 and that one line; anything
else is a bug and keeps its traceback.
"""
from __future__ import annotations


class PipelineError(ValueError):
    """Bad input: the message names the file or setting and the problem, in one line."""
