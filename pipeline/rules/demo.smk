# The synthetic demo dataset in the MovieGraphs layout (python -m pipeline.demo), made from nothing.
# Only for dataset.format "demo"; a real MovieGraphs download is used as it is. The generator writes
# into a temp folder next to dataset.root and renames it into place, so a crash leaves no half dataset.


if IS_DEMO:

    rule demo_dataset:
        output:
            split=str(LAYOUT.split),
            annotations=str(LAYOUT.annotations),
            labels=[str(path) for path in LAYOUT.label_files()],
            summary=str(LAYOUT.root / "summary.json"),
            readme=str(LAYOUT.root / "README.md"),
            contact_sheet=report(
                str(LAYOUT.root / "contact_sheet.png"),
                caption="../report/contact_sheet.rst",
                category="Demo data",
            ),
        log:
            "logs/demo/demo_dataset.log",
        benchmark:
            "benchmarks/demo/demo_dataset.tsv"
        conda:
            "../../envs/demo.yaml"
        threads: 2
        resources:
            mem_mb=2000,
            runtime=30,
        params:
            # the demo section and the dataset paths the generator writes (a changed path remakes the data)
            settings=stage_settings("demo"),
            code=stage_code("demo"),
        shell:
            "python -m pipeline.demo --settings {params.settings:q} --workers {threads} > {log} 2>&1"
