# Result tables 1-7, figure 5 and the report, gathered from the evaluation files; figure 2 from the
# training annotations.


rule table:
    input:
        table_evaluations,
    output:
        csv=PATHS.results / "table{number}.csv",
        md=PATHS.results / "table{number}.md",
    wildcard_constraints:
        number="|".join(str(number) for number in TABLES),
    params:
        settings=stage_settings("tables"),
        eval_dir=PATHS.work / "eval",
    log:
        "logs/tables/table{number}.log",
    conda:
        "../../envs/model.yaml"
    shell:
        "python -m model.tables --settings {params.settings:q} --table {wildcards.number}"
        " --eval-dir {params.eval_dir}"
        " --out {output.csv} > {log} 2>&1"


rule figure5:
    input:
        [str(PATHS.evaluation(name, split)) for name, split in required_evaluations("figure5")],
    output:
        png=PATHS.results / "figure5.png",
        csv=PATHS.results / "figure5.csv",
    params:
        settings=stage_settings("tables"),
        eval_dir=PATHS.work / "eval",
    log:
        "logs/tables/figure5.log",
    conda:
        "../../envs/model.yaml"
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
        png=PATHS.results / "figure2.png",
        csv=PATHS.results / "figure2.csv",
    params:
        settings=stage_settings("figure2"),
    log:
        "logs/tables/figure2.log",
    conda:
        "../../envs/model.yaml"
    shell:
        "python -m pipeline.figure2 --settings {params.settings:q} --out {output.png} > {log} 2>&1"


rule report:
    input:
        tables=[PATHS.results / f"table{number}.csv" for number in sorted(TABLES)],
        figure=rules.figure5.output.png,
        figure2=rules.figure2.output.csv,
        evaluations=report_evaluations(),
        summary=PATHS.annotations_summary(),
    output:
        PATHS.results / "report.md",
    params:
        settings=stage_settings("report"),
        eval_dir=PATHS.work / "eval",
        results_dir=PATHS.results,
    log:
        "logs/tables/report.log",
    conda:
        "../../envs/model.yaml"
    shell:
        "python -m model.report --settings {params.settings:q} --eval-dir {params.eval_dir}"
        " --results-dir {params.results_dir}"
        " --summary {input.summary} --out {output} > {log} 2>&1"
