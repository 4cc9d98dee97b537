# Sample shards: one sample per person-to-person interaction instance, features pooled over its
# span (python -m pipeline.samples; the module docstring is the shard contract). One job per
# pooling and split, reading the split's annotation rows and both feature files of its movies.
# The params are a function so that the movie and clip path templates of the dataset section are
# not taken for wildcards; they hold what shapes a shard (sample settings, label files, seed).


rule samples:
    input:
        ready=dataset_ready(),
        labels=[] if IS_DEMO else [str(path) for path in LAYOUT.label_files()],
        split=str(PATHS.annotations_split()),
        annotations=lambda wildcards: [
            str(PATHS.annotations(m)) for m in SPLIT_MOVIES[wildcards.split]
        ],
        visual=lambda wildcards: [
            str(PATHS.visual_features(m)) for m in SPLIT_MOVIES[wildcards.split]
        ],
        dialog=lambda wildcards: [
            str(PATHS.dialog_features(m)) for m in SPLIT_MOVIES[wildcards.split]
        ],
    output:
        str(PATHS.work / "samples" / "{pooling}" / "{split}.h5"),
    log:
        "logs/samples/{pooling}.{split}.log",
    benchmark:
        "benchmarks/samples/{pooling}.{split}.tsv"
    conda:
        "../../envs/model.yaml"
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        settings=stage_settings("samples"),
        code=stage_code("samples"),
    shell:
        "python -m pipeline.samples --settings {params.settings:q} --pooling {wildcards.pooling}"
        " --split {wildcards.split} --out {output} > {log} 2>&1"
