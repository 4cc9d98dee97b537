# Result tables 1-7, figure 5, the report and the benchmark summary, gathered from the evaluation
# and benchmark files; each marked for `snakemake --report report.html` with its caption.


rule table:
    input:
        table_evaluations,
    output:
        csv=report(
            PATHS.results / "table{number}.csv",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "{number}"},
        ),
        md=PATHS.results / "table{number}.md",
    log:
        "logs/tables/table{number}.log",
    wildcard_constraints:
        number="|".join(str(number) for number in TABLES),
    conda:
        "../../envs/model.yaml"
    params:
        settings=stage_settings("tables"),
        code=stage_code("tables"),
        eval_dir=PATHS.work / "eval",
    shell:
        "python -m model.tables --settings {params.settings:q} --table {wildcards.number}"
        " --eval-dir {params.eval_dir}"
        " --out {output.csv} > {log} 2>&1"


rule figure5:
    input:
        [
            str(PATHS.evaluation(name, split))
            for name, split in required_evaluations("figure5")
        ],
    output:
        png=report(
            PATHS.results / "figure5.png",
            caption="../report/figure5.rst",
            category="Figures",
        ),
        csv=PATHS.results / "figure5.csv",
    log:
        "logs/tables/figure5.log",
    conda:
        "../../envs/model.yaml"
    params:
        settings=stage_settings("tables"),
        code=stage_code("tables"),
        eval_dir=PATHS.work / "eval",
    shell:
        "python -m model.tables --settings {params.settings:q} --figure5 --eval-dir {params.eval_dir}"
        " --out {output.png} > {log} 2>&1"


rule figure2:
    input:
        ready=dataset_ready(),
        labels=[] if IS_DEMO else [str(path) for path in LAYOUT.label_files()],
        split=str(PATHS.annotations_split()),
        annotations=[str(PATHS.annotations(movie)) for movie in SPLIT_MOVIES["train"]],
    output:
        png=report(
            PATHS.results / "figure2.png",
            caption="../report/figure2.rst",
            category="Figures",
        ),
        csv=PATHS.results / "figure2.csv",
    log:
        "logs/tables/figure2.log",
    conda:
        "../../envs/model.yaml"
    params:
        settings=stage_settings("figure2"),
        code=stage_code("figure2"),
    shell:
        "python -m pipeline.figure2 --settings {params.settings:q} --out {output.png} > {log} 2>&1"


rule report:
    input:
        tables=[PATHS.results / f"table{number}.csv" for number in sorted(TABLES)],
        figure=rules.figure5.output.png,
        figure2=rules.figure2.output.csv,
        summary=PATHS.annotations_summary(),
        evaluations=all_table_evaluations(),
        shard_reports=shard_reports(),
    output:
        report(
            PATHS.results / "report.md",
            caption="../report/report_md.rst",
            category="Report",
        ),
    log:
        "logs/tables/report.log",
    conda:
        "../../envs/model.yaml"
    params:
        settings=stage_settings("report"),
        code=stage_code("report"),
        eval_dir=PATHS.work / "eval",
        results_dir=PATHS.results,
    shell:
        "python -m model.report --settings {params.settings:q} --eval-dir {params.eval_dir}"
        " --results-dir {params.results_dir}"
        " --summary {input.summary} --shard-reports {input.shard_reports} --out {output} > {log} 2>&1"


rule benchmark_summary:
    input:
        workflow_benchmarks(),
    output:
        report(
            PATHS.results / "benchmarks.csv",
            caption="../report/benchmarks.rst",
            category="Benchmarks",
        ),
    log:
        "logs/tables/benchmark_summary.log",
    conda:
        "../../envs/model.yaml"
    params:
        settings=stage_settings("benchmarks"),
        code=stage_code("benchmarks"),
    shell:
        "python -m pipeline.benchmarks --settings {params.settings:q} --out {output} {input}"
        " > {log} 2>&1"
