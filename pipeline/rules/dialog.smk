# Dialog features: clip subtitles -> sentences -> BERT sentence-pair vectors (extractors.dialog),
# one file per movie. One job makes all movies: starting Python, importing transformers and loading
# the model cost more than encoding a movie's sentences, so per-movie jobs would be several times
# slower. Params are functions so that the "{movie}/{clip}" pattern of dataset.subtitles is not
# taken for wildcards; they hold everything that shapes the output (dialog settings, subtitle
# location, library versions, the movie list), so a change reruns exactly this job. One thread:
# MiniLM on short sentences gains little from a second one, and on a busy machine (visual jobs
# alongside) two torch threads were 4x slower than one.


rule dialog_features:
    input:
        ready=dataset_ready(),
        subtitles=lambda wildcards: [
            path for movie in MOVIES for path in dialog_dataset_inputs(config, movie)
        ],
    output:
        features=[str(PATHS.dialog_features(movie)) for movie in MOVIES],
        reports=[stage_report(PATHS.dialog_features(movie)) for movie in MOVIES],
    log:
        "logs/dialog/dialog_features.log",
    benchmark:
        "benchmarks/dialog/dialog_features.tsv"
    conda:
        "../../envs/dialog.yaml"
    threads: 1
    resources:
        gpu=gpu_jobs(config["dialog"]["device"], workflow.local_exec),
        mem_mb=4000,
        runtime=60,
    params:
        settings=stage_settings("dialog"),
        code=stage_code("dialog"),
        versions=stage_versions("dialog"),
        movies=MOVIES,
    shell:
        "python -m extractors.dialog --settings {params.settings:q} --movie {params.movies}"
        " --out {output.features} --threads {threads} > {log} 2>&1"
