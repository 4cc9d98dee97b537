# Sample shards: one sample per person-to-person interaction instance, features pooled over its
# span (python -m pipeline.samples; the module docstring is the shard contract). One job per
# pooling and split, reading the split's annotation rows and both feature files of its movies.
# The params hold what shapes a shard: the sample settings, label files, seed, and the split's movie
# list (a movie added to or removed from split.json remakes the shard). The upstream stages'
# reports are inputs too: the samples of the clips they left out (skip policy) are left out here.


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
        reports=lambda wildcards: [
            stage_report(features(m))
            for m in SPLIT_MOVIES[wildcards.split]
            for features in (PATHS.visual_features, PATHS.dialog_features)
        ],
    output:
        shard=str(PATHS.samples("{pooling}", "{split}")),
        report=stage_report(PATHS.samples("{pooling}", "{split}")),
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
        movies=lambda wildcards: SPLIT_MOVIES[wildcards.split],
    shell:
        "python -m pipeline.samples --settings {params.settings:q} --pooling {wildcards.pooling}"
        " --split {wildcards.split} --out {output.shard} > {log} 2>&1"
