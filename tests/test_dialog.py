"""Dialog features: pair encoding, the real MiniLM BERT, the HDF5 contract and the Snakemake rule."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from extractors.dialog import main as dialog_main
from extractors.dialog import subtitle_files
from extractors.settings import DialogSettings
from extractors.text_encoder import (
    PairInput,
    SentenceEncoder,
    TextModelError,
    build_pair_input,
    resolve_model_dir,
)
from pipeline.config import ConfigError, load_config
from pipeline.dataset import DatasetError, DatasetLayout
from pipeline.h5io import is_complete_h5
from pipeline.subtitles import next_person_sentences, read_sentences
from tests._dialog_helpers import EMPTY_CLIP, FIXTURE_MOVIE, FIXTURE_SUBTITLES, make_dataset, write_config
from tests._workflow_helpers import job_environment, scheduled_jobs
from tests.conftest import REPO_ROOT

CLS, SEP = 101, 102


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    """The real default model (all-MiniLM-L6-v2 BERT), loaded once for the module."""
    return SentenceEncoder(model="minilm", layer=-2, token_pooling="mean", max_length=32, batch_size=3,
                           device="cpu")


# --- pair inputs -----------------------------------------------------------------------------


def test_pair_input_has_sentence_pair_token_types():
    pair = build_pair_input([7, 8, 9], [20, 21], CLS, SEP, max_length=16)
    assert pair == PairInput([CLS, 7, 8, 9, SEP, 20, 21, SEP], [0, 0, 0, 0, 0, 1, 1, 1], 3)


def test_single_sentence_input_is_all_segment_zero():
    assert build_pair_input([7, 8], None, CLS, SEP, 16) == PairInput([CLS, 7, 8, SEP], [0, 0, 0, 0], 2)


def test_pair_truncation_keeps_the_first_sentence():
    # The partner gets the room left; with none left it is dropped; the first is cut last.
    assert build_pair_input([1, 2, 3], [4, 5, 6], CLS, SEP, 7) == PairInput(
        [CLS, 1, 2, 3, SEP, 4, SEP], [0, 0, 0, 0, 0, 1, 1], 3)
    assert build_pair_input([1, 2, 3, 4], [5], CLS, SEP, 6).token_type_ids == [0] * 6
    assert build_pair_input(list(range(1, 20)), [5], CLS, SEP, 6) == PairInput(
        [CLS, 1, 2, 3, 4, SEP], [0] * 6, 4)


def test_pair_inputs_match_the_tokenizers_own_sentence_pairs(encoder):
    texts = ["Good morning, Miss Ratched.", "Good morning."]
    ours = encoder.pair_inputs(texts, [1, None])
    reference = encoder.tokenizer(texts[0], texts[1])
    assert ours[0].input_ids == reference["input_ids"]
    assert ours[0].token_type_ids == reference["token_type_ids"]
    assert 1 in ours[0].token_type_ids
    assert ours[1].input_ids == encoder.tokenizer(texts[1])["input_ids"]
    assert ours[0].first_length == len(encoder.tokenizer(texts[0], add_special_tokens=False)["input_ids"])


# --- the real model --------------------------------------------------------------------------


def test_real_model_vectors(encoder):
    sentences = read_sentences(FIXTURE_SUBTITLES / "scene-014.ss-0065.es-0068.webvtt")
    texts = [s.text for s in sentences]
    partners = next_person_sentences(sentences)
    vectors = encoder.encode(texts, partners)
    assert vectors.shape == (len(texts), encoder.hidden_size) == (9, 384)
    assert np.isfinite(vectors).all()
    # Different sentences give different vectors.
    distinct = {tuple(np.round(v, 4)) for v in vectors}
    assert len(distinct) == len(texts)
    cosine = vectors[0] @ vectors[3] / np.linalg.norm(vectors[0]) / np.linalg.norm(vectors[3])
    assert cosine < 0.99
    # "Sure." (turn 6, paired with the reply) and "Sure." (turn 7, alone): same words, other context.
    assert texts[6] == texts[8] and not np.allclose(vectors[6], vectors[8], atol=1e-3)
    # Batching and sorting do not change a sentence's vector; identical inputs give one vector.
    alone = encoder.encode([texts[1], texts[2], texts[8]], [1, None, None])
    np.testing.assert_allclose(alone, vectors[[1, 2, 8]], atol=2e-5)
    twice = encoder.encode(["Yes?", "Yes?", "No."], [None, None, None])
    np.testing.assert_array_equal(twice[0], twice[1])
    np.testing.assert_allclose(twice[0], vectors[0], atol=2e-5)


def test_layer_and_pooling_change_the_vectors(encoder):
    texts = ["Good morning, Miss Ratched.", "Good morning."]
    default = encoder.encode(texts, [1, None])
    other = SentenceEncoder(model="minilm", layer=-1, token_pooling="max", max_length=32, batch_size=32, device="cpu")
    changed = other.encode(texts, [1, None])
    assert changed.shape == default.shape and not np.allclose(changed, default, atol=1e-3)
    # The second-to-last layer equals the full model's hidden_states[-2] (unused top layers skipped).
    import torch
    from transformers import BertModel

    full = BertModel.from_pretrained(encoder.model_dir, local_files_only=True).eval()
    batch = encoder.tokenizer(texts[0], texts[1], return_tensors="pt")
    with torch.inference_mode():
        hidden = full(**batch, output_hidden_states=True).hidden_states[-2][0]
    length = encoder.pair_inputs(texts, [1, None])[0].first_length
    np.testing.assert_allclose(default[0], hidden[1: 1 + length].mean(0).numpy(), atol=2e-5)


def test_bad_layer_and_missing_model_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"dialog.layer 7: the model has 6 layers"):
        SentenceEncoder(model="minilm", layer=7, token_pooling="mean", max_length=32, batch_size=32, device="cpu")
    with pytest.raises(TextModelError, match=r"not a BERT model folder.*bert-base-uncased"):
        resolve_model_dir(str(tmp_path / "bert-base-uncased"))
    assert (resolve_model_dir("minilm") / "config.json").is_file()


# --- entry point and HDF5 contract -----------------------------------------------------------


def test_entry_point_writes_the_dialog_contract(tmp_path):
    root = make_dataset(tmp_path / "ds")
    second = "tt0000002"  # a second movie: one clip, the same words as a clip of the first
    (root / "clip_srt" / second).mkdir()
    (root / "clip_srt" / second / "scene-001.webvtt").write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nOkay, my friend, let's go.\n", encoding="utf-8")
    config = write_config(tmp_path / "config.yaml", root, layer=-2)
    out = tmp_path / "work" / "features" / "dialog" / f"{FIXTURE_MOVIE}.h5"
    out_second = out.with_name(f"{second}.h5")
    assert dialog_main(["--config", str(config), "--movie", FIXTURE_MOVIE, second,
                        "--out", str(out), str(out_second)]) == 0
    assert is_complete_h5(out) and is_complete_h5(out_second)
    with h5py.File(out, "r") as first, h5py.File(out_second, "r") as other:
        assert first.attrs["movie"] == FIXTURE_MOVIE and other.attrs["movie"] == second
        assert list(other["clips"]) == ["scene-001"]
        np.testing.assert_array_equal(other["clips/scene-001/vectors"][()],
                                      first["clips/scene-007.ss-0015.es-0015/vectors"][()])
    with h5py.File(out, "r") as handle:
        attrs = handle.attrs
        assert attrs["model"] == "minilm" and attrs["layer"] == -2 and attrs["token_pooling"] == "mean"
        assert attrs["max_length"] == 128 and attrs["hidden_size"] == 384
        assert "torch" in json.loads(attrs["versions"]) and "[SEP]" in attrs["pairing"]
        clips = handle["clips"]
        assert sorted(clips) == sorted([EMPTY_CLIP] + [p.stem for p in FIXTURE_SUBTITLES.glob("*.webvtt")])
        scene = clips["scene-014.ss-0065.es-0068"]
        assert scene["text"].asstr()[()].tolist()[:3] == ["Yes?", "Mr. McMurphy's here, doc.",
                                                           "Good, have him come in."]
        assert scene["times"].dtype == np.float32 and scene["times"].shape == (9, 2)
        assert scene["turn"].dtype == np.int32 and scene["turn"][()].tolist() == [0, 1, 2, 3, 4, 5, 6, 6, 7]
        assert scene["vectors"].dtype == np.float16 and scene["vectors"].shape == (9, 384)
        empty = clips[EMPTY_CLIP]
        assert empty["text"].shape == (0,) and empty["times"].shape == (0, 2)
        assert empty["turn"].shape == (0,) and empty["vectors"].shape == (0, 384)
    # each movie's file and its report, nothing else (no temp files)
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(
        name for path in (out, out_second) for name in (path.name, path.name + ".report.json"))


def test_entry_point_needs_one_output_per_movie(tmp_path, caplog):
    config = write_config(tmp_path / "config.yaml", make_dataset(tmp_path / "ds"))
    assert dialog_main(["--config", str(config), "--movie", FIXTURE_MOVIE, "tt2", "--out", "a.h5"]) == 2
    assert "2 movies but 1 output files" in caplog.text


def test_entry_point_bad_subtitles_exit_2_without_output(tmp_path, caplog):
    root = make_dataset(tmp_path / "ds")
    (root / "clip_srt" / FIXTURE_MOVIE / "scene-099.ss-0001.es-0002.webvtt").write_text(
        "WEBVTT\n\n00:00:01.000 --> whenever\nHi.\n", encoding="utf-8")
    config = write_config(tmp_path / "config.yaml", root)
    out = tmp_path / "out.h5"
    assert dialog_main(["--config", str(config), "--movie", FIXTURE_MOVIE, "--out", str(out)]) == 2
    assert not out.exists()
    assert re.search(r"scene-099\.ss-0001\.es-0002\.webvtt: line 3: malformed timing line", caplog.text)
    assert "Traceback" not in caplog.text


def test_missing_subtitle_folder_is_a_clear_error(tmp_path):
    config = load_config(write_config(tmp_path / "config.yaml", tmp_path / "nothing"))
    with pytest.raises(DatasetError, match=r"clip_srt/tt0000001: subtitle folder of movie tt0000001 not found"):
        subtitle_files(DialogSettings.from_config(config), "tt0000001")


# --- Snakemake: a changed dialog layer reruns only the dialog jobs ---------------------------

VISUAL_RULES = REPO_ROOT / "pipeline" / "rules" / "visual.smk"


def _snakemake(workdir: Path, *args: str) -> str:
    env = job_environment()
    result = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "--cores", "2", "--directory",
                             str(workdir), "--snakefile", str(workdir / "Snakefile"), *args],
                            capture_output=True, text=True, env=env, timeout=300, cwd=workdir)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def _make_missing_inputs(workdir: Path, targets: list[str], attempts: int = 10) -> None:
    """Create (empty) files for source inputs the visual rules need, so their outputs can stand."""
    for _ in range(attempts):
        env = job_environment()
        result = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-n", "--cores", "1",
                                 "--directory", str(workdir), "--snakefile", str(workdir / "Snakefile"),
                                 *targets], capture_output=True, text=True, env=env, timeout=300, cwd=workdir)
        output = result.stdout + result.stderr
        if "MissingInputException" not in output:
            return
        affected = output.split("affected files:", 1)[1].splitlines()[1:]
        for line in affected:
            name = line.strip()
            if not name or not line.startswith(" "):
                break
            path = workdir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("{}" if path.suffix == ".json" else "")
    pytest.fail(f"could not bring the inputs of the visual rules up: {output[-2000:]}")


def test_changed_dialog_layer_reruns_only_dialog_jobs(tmp_path):
    """Dialog outputs made by the rule (params recorded), visual outputs (when visual.smk exists)
    present and newer than their inputs: changing dialog.layer schedules exactly the dialog jobs."""
    workdir = tmp_path / "wf"
    root = make_dataset(workdir / "ds")
    for clip in ("scene-007.ss-0015.es-0015", "scene-014.ss-0065.es-0068"):
        (root / "clip_srt" / FIXTURE_MOVIE / f"{clip}.webvtt").unlink()  # a short model run
    includes = [REPO_ROOT / "pipeline" / "rules" / "common.smk", REPO_ROOT / "pipeline" / "rules" / "dialog.smk"]
    if VISUAL_RULES.is_file():
        includes.append(VISUAL_RULES)
    (workdir / "Snakefile").write_text(
        'configfile: "config.yaml"\n\n' + "".join(f'include: "{path}"\n' for path in includes), encoding="utf-8")
    config = {"work_dir": "work", "dataset": {"format": "moviegraphs", "root": "ds"},
              "dialog": {"device": "cpu", "layer": -2}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    dialog_targets = [f"work/features/dialog/{FIXTURE_MOVIE}.h5"]
    visual_targets = [f"work/features/visual/{FIXTURE_MOVIE}.h5"] if VISUAL_RULES.is_file() else []

    _snakemake(workdir, *dialog_targets)
    if visual_targets:  # stand in for a finished visual run: inputs present, outputs newer
        _make_missing_inputs(workdir, visual_targets)
        for target in visual_targets:
            (workdir / target).parent.mkdir(parents=True, exist_ok=True)
            (workdir / target).write_bytes(b"")
    targets = dialog_targets + visual_targets
    assert scheduled_jobs(_snakemake(workdir, "-n", *targets)) == {}

    config["dialog"]["layer"] = -1
    (workdir / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    plan = _snakemake(workdir, "-n", *targets)
    assert scheduled_jobs(plan) == {"dialog_features": 1}, plan[-3000:]  # one job, all movies
    assert re.search(r"reason: .*params", plan, re.IGNORECASE), plan[-3000:]
    assert all(f"output: {target}" not in plan for target in visual_targets)
