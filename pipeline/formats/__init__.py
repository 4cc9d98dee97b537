"""One reader and writer per file format passed between stages (docs/architecture.md, "Data contracts"):

- :mod:`pipeline.formats.annotations`: ``work/annotations/<movie>.parquet``;
- :mod:`pipeline.formats.visual`: ``work/features/visual/<movie>.h5`` (and its per-clip part files);
- :mod:`pipeline.formats.dialog`: ``work/features/dialog/<movie>.h5``;
- :mod:`pipeline.formats.shard`: ``work/samples/<pooling>/<split>.h5``.

The stage that writes a file, the stage that reads it and the tests all go through these modules.
"""
