"""LIReC-pipeline: dataset readers, the demo dataset, sample assembly and stage entry points."""
