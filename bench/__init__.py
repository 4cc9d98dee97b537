"""Speed and memory benchmarks of the pipeline stages (scripts, not tests): ``python -m bench.<name>``."""
