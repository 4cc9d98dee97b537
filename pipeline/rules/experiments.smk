# Training and evaluation of each experiment of workflow_config.yaml (one model each).


def experiment_settings(wildcards):
    """Settings that shape a trained model: training hyper-parameters, seed and its experiment entry."""
    return json.dumps(
        {
            "seed": config["seed"],
            "train": config["train"],
            "experiments": {wildcards.experiment: config["experiments"][wildcards.experiment]},
        },
        sort_keys=True,
    )


def experiment_samples(wildcards, split):
    pooling = config["experiments"][wildcards.experiment]["pooling"]
    return str(PATHS.samples(pooling, split))


def train_samples(wildcards):
    return experiment_samples(wildcards, "train")


def val_samples(wildcards):
    return experiment_samples(wildcards, "val")


def eval_samples(wildcards):
    return experiment_samples(wildcards, wildcards.split)


def model_dir(wildcards):
    return str(PATHS.model_dir(wildcards.experiment))


rule train:
    input:
        train=train_samples,
        val=val_samples,
    output:
        checkpoint=PATHS.work / "models" / "{experiment}" / "best.pt",
        log_csv=PATHS.work / "models" / "{experiment}" / "train_log.csv",
    params:
        settings=experiment_settings,
        out_dir=model_dir,
    log:
        "logs/train/{experiment}.log",
    benchmark:
        "benchmarks/train/{experiment}.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=240,
    conda:
        "../../envs/model.yaml"
    shell:
        "python -m model.train --settings {params.settings:q} --experiment {wildcards.experiment}"
        " --train {input.train} --val {input.val} --out-dir {params.out_dir} > {log} 2>&1"


rule evaluate:
    input:
        checkpoint=rules.train.output.checkpoint,
        samples=eval_samples,
    output:
        PATHS.work / "eval" / "{experiment}" / "{split}.json",
    params:
        settings=experiment_settings,
    log:
        "logs/evaluate/{experiment}.{split}.log",
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/model.yaml"
    shell:
        "python -m model.evaluate --settings {params.settings:q} --experiment {wildcards.experiment}"
        " --checkpoint {input.checkpoint} --samples {input.samples} --out {output} > {log} 2>&1"
