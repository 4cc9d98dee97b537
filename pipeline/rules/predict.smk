# Prediction on a movie without annotations (python -m model.predict): per clip who interacts with
# whom, doing what, in which relationship (the paper's Fig. 6), the movie's social graph and its page.
#   snakemake --cores 8 results/predict/index.html            # every predict.movies (default: test split)
#   snakemake --cores 8 results/predict/<movie>/index.html    # one movie (predict.root: its folder)
# A movie of the run in the dataset's folder uses the visual, dialog and annotations stages' files
# (the accuracy on its annotations is reported); any other movie is extracted by the prediction
# itself with the same code, cached in work/predict/<movie>/.


rule predict:
    input:
        unpack(predict_features),
        checkpoint=str(PATHS.predict_checkpoint(config["predict"])),
    output:
        predictions=PATHS.predict_results("{movie}") / "predictions.json",
        graph=PATHS.predict_results("{movie}") / "graph.json",
        png=PATHS.predict_results("{movie}") / "graph.png",
        html=PATHS.predict_results("{movie}") / "index.html",
    log:
        "logs/predict/{movie}.log",
    benchmark:
        "benchmarks/predict/{movie}.tsv"
    conda:
        "../../envs/predict.yaml"
    # up to 8 torch threads (capped at --cores locally, --max-threads on a cluster)
    threads: 8
    resources:
        gpu=gpu_jobs(config["train"]["device"], workflow.local_exec),
        mem_mb=6000,
        runtime=120,
    params:
        settings=stage_settings("predict"),
        code=stage_code("predict"),
        options=predict_options,
        out_dir=lambda wildcards: PATHS.predict_results(wildcards.movie),
        visual_dtype=visual_dtype(config["visual"], workflow.local_exec),
    shell:
        "python -m model.predict --settings {params.settings:q} --movie {wildcards.movie}"
        " --checkpoint {input.checkpoint} {params.options} --out-dir {params.out_dir}"
        " --threads {threads} > {log} 2>&1"


rule predict_index:
    input:
        [
            PATHS.predict_results(movie) / "predictions.json"
            for movie in predict_movies(config, SPLIT_MOVIES)
        ],
    output:
        PATHS.predict_index(),
    log:
        "logs/predict/index.log",
    conda:
        "../../envs/predict.yaml"
    params:
        settings=stage_settings("predict"),
        code=stage_code("predict"),
    shell:
        "python -m model.predict --settings {params.settings:q} --index {output}"
        " --predictions {input} > {log} 2>&1"
