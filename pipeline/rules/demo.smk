# The synthetic demo dataset in the MovieGraphs layout (python -m pipeline.demo), made from nothing.
# Only for dataset.format "demo"; a real MovieGraphs download is used as it is. The generator writes
# into a temp folder next to dataset.root and renames it into place, so a crash leaves no half dataset.

# The dataset paths the generator writes (part of its params: a changed path remakes the data).
DEMO_LAYOUT_KEYS = ("root", "annotations", "split", "videos", "ftracks", "ftrack_ids", "subtitles", "labels")


if IS_DEMO:

    rule demo_dataset:
        output:
            split=str(LAYOUT.split),
            annotations=str(LAYOUT.annotations),
            labels=[str(path) for path in LAYOUT.label_files()],
            summary=str(LAYOUT.root / "summary.json"),
            readme=str(LAYOUT.root / "README.md"),
            contact_sheet=str(LAYOUT.root / "contact_sheet.png"),
        params:
            # settings("demo") plus the dataset paths; a lambda so that the "{movie}/{clip}" of the
            # dataset paths is not taken for wildcards.
            settings=lambda wildcards: json.dumps(
                {"demo": config["demo"], "dataset": {key: config["dataset"][key] for key in DEMO_LAYOUT_KEYS}},
                sort_keys=True,
            ),
        log:
            "logs/demo/demo_dataset.log",
        benchmark:
            "benchmarks/demo/demo_dataset.tsv"
        threads: 2
        resources:
            mem_mb=2000,
            runtime=30,
        conda:
            "../../envs/demo.yaml"
        shell:
            "python -m pipeline.demo --settings {params.settings:q} --workers {threads} > {log} 2>&1"
