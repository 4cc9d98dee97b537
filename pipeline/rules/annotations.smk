# Annotation rows per movie: MovieGraphs clip graphs -> directed person-to-person interactions
# (python -m pipeline.annotations; see docs/architecture.md, "Data contracts").
# Inputs: for the demo only the dataset_ready() marker (demo_dataset writes every release file with
# it); for a real dataset the annotation pickle, split, label maps and the movies' track names.


rule annotations:
    input:
        ready=dataset_ready(),
        release=(
            []
            if IS_DEMO
            else [str(LAYOUT.annotations), str(LAYOUT.split)]
            + [str(path) for path in LAYOUT.label_files()]
            + [str(LAYOUT.ftrack_ids_file(movie)) for movie in MOVIES]
        ),
    output:
        rows=[str(PATHS.annotations(movie)) for movie in MOVIES],
        summary=str(PATHS.annotations_summary()),
        split=str(PATHS.annotations_split()),
    log:
        "logs/annotations.log",
    conda:
        "../../envs/annotations.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        settings=stage_settings("annotations"),
        code=stage_code("annotations"),
    shell:
        "python -m pipeline.annotations --settings {params.settings:q} > {log} 2>&1"
