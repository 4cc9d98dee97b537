# Training and evaluation of each experiment of workflow_config.yaml: train.repeats models each
# (seeds derived from the master seed), trained one after the other in one train job (repeat 0 in
# the experiment's folder, the others in repeat<k>/), all evaluated by one evaluate job per split.


rule train:
    input:
        train=train_samples,
        val=val_samples,
    output:
        checkpoint=PATHS.work / "models" / "{experiment}" / "best.pt",
        log_csv=PATHS.work / "models" / "{experiment}" / "train_log.csv",
        repeats=[
            str(path)
            for path in PATHS.repeat_checkpoints(
                "{experiment}", config["train"]["repeats"]
            )
        ],
    log:
        "logs/train/{experiment}.log",
    benchmark:
        "benchmarks/train/{experiment}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        gpu=gpu_jobs(config["train"]["device"], workflow.local_exec),
        mem_mb=6000,
        runtime=240,
    params:
        settings=stage_settings("train"),
        code=stage_code("train"),
        out_dir=model_dir,
    shell:
        "python -m model.train --settings {params.settings:q} --experiment {wildcards.experiment}"
        " --train {input.train} --val {input.val} --out-dir {params.out_dir} --threads {threads}"
        " --no-progress > {log} 2>&1"


rule evaluate:
    input:
        checkpoint=rules.train.output.checkpoint,
        repeats=rules.train.output.repeats,
        samples=eval_samples,
    output:
        PATHS.work / "eval" / "{experiment}" / "{split}.json",
    log:
        "logs/evaluate/{experiment}.{split}.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        gpu=gpu_jobs(config["train"]["device"], workflow.local_exec),
        mem_mb=4000,
    params:
        settings=stage_settings("evaluate"),
        code=stage_code("evaluate"),
    shell:
        "python -m model.evaluate --settings {params.settings:q} --experiment {wildcards.experiment}"
        " --checkpoint {input.checkpoint} {input.repeats} --samples {input.samples} --out {output} --threads {threads}"
        " > {log} 2>&1"
