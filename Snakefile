# LIReC-pipeline: from movie videos to the result tables of
# "Learning Interactions and Relationships between Movie Characters" (CVPR 2020).
#
#   snakemake --cores 8 results/table7.csv       # the test-set table (and only what it needs)
#   snakemake --cores 8 all                      # every table, figures 2 and 5, the report
#   snakemake --profile profiles/slurm all       # on a SLURM cluster
#   snakemake --cores 8 results/predict/index.html   # predictions on the test movies (make predict)
#
# Every rule is a thin call of a Python entry point (python -m ...); see docs/architecture.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "workflow_config.yaml"


report: "pipeline/report/workflow.rst"


include: "pipeline/rules/common.smk"


# The `gpu` limit of a profile (profiles/default: one GPU job at a time on a workstation) counts the
# jobs of one machine; cluster jobs are counted by SLURM, not by this limit.
resource_scopes:
    gpu="local",


wildcard_constraints:
    movie=r"[A-Za-z0-9_\-]+",
    split="|".join(SPLITS),
    pooling="|".join(POOLINGS),


include: "pipeline/rules/demo.smk"
include: "pipeline/rules/annotations.smk"
include: "pipeline/rules/visual.smk"
include: "pipeline/rules/dialog.smk"
include: "pipeline/rules/samples.smk"
include: "pipeline/rules/experiments.smk"
include: "pipeline/rules/tables.smk"
include: "pipeline/rules/predict.smk"


rule all:
    default_target: True
    input:
        [PATHS.results / f"table{number}.csv" for number in sorted(TABLES)],
        rules.figure5.output,
        rules.figure2.output,
        rules.report.output,
        rules.benchmark_summary.output,
