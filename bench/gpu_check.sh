#!/usr/bin/env bash
# The CUDA path of every stage, on a GPU machine without Snakemake: the tiny demo through the same
# entry points the rules call (demo -> annotations -> visual -> dialog -> samples -> train ->
# evaluate), then bf16 autocast vs float32 visual features of one movie, then the GPU benchmarks
# (bench_visual three-way on real footage for both backbones, bf16 and float32, peak CUDA memory;
# on the trailer as one clip and as a movie of 8 clips decoded at once).
#
#   bash bench/gpu_check.sh I3D_WEIGHTS BERT_FOLDER [WORK_DIR]
#
# I3D_WEIGHTS: the converted Kinetics-400 I3D file (python -m extractors.weights --out FILE);
# BERT_FOLDER: a local BERT folder (as dialog.model). DEVICE=cpu runs the same on the CPU (to try
# the script itself). Prints one "GPU-CHECK ok" line at the end when every step passed.
set -euo pipefail
weights=$1
bert=$2
work=${3:-/tmp/lirec_gpu_check}
device=${DEVICE:-cuda}
python=${PYTHON:-python3}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
rm -rf "$work"
mkdir -p "$work"
settings=$("$python" -c '
import json, sys
work, weights, bert, device = sys.argv[1:]
print(json.dumps({
    "work_dir": f"{work}/work",
    "dataset": {"root": f"{work}/data"},
    "demo": {"size": "tiny"},
    "visual": {"weights": weights, "device": device, "batch_size": 16},
    "dialog": {"model": bert, "device": device},
    "train": {"device": device, "epochs": 12, "burn_in": 4, "eval_every": 4, "batch_size": 16, "lr": 0.001},
}))' "$work" "$weights" "$bert" "$device")
step() {
  echo "== $1"; shift
  if [ -x /usr/bin/time ]; then /usr/bin/time -f "   %e s wall, %M KB peak RSS" "$@"; else time "$@"; fi
}

step "demo dataset (tiny)" "$python" -m pipeline.demo --config workflow_config.yaml --settings "$settings" --workers 4
mapfile -t movies < <("$python" -c '
import json, sys
split = json.load(open(sys.argv[1]))
print("\n".join(m for s in ("train", "val", "test") for m in split[s]))' "$work/data/split.json")
echo "   movies: ${movies[*]}"
step annotations "$python" -m pipeline.annotations --config workflow_config.yaml --settings "$settings" --out-dir "$work/work/annotations"
for movie in "${movies[@]}"; do
  step "visual $movie ($device)" "$python" -m extractors.visual --config workflow_config.yaml --settings "$settings" --movie "$movie" \
    --out "$work/work/features/visual/$movie.h5"
done
dialog_outs=()
for movie in "${movies[@]}"; do dialog_outs+=("$work/work/features/dialog/$movie.h5"); done
step "dialog ($device)" "$python" -m extractors.dialog --config workflow_config.yaml --settings "$settings" --movie "${movies[@]}" \
  --out "${dialog_outs[@]}"
for split in train val test; do
  step "samples max/$split" "$python" -m pipeline.samples --config workflow_config.yaml --settings "$settings" --pooling max --split "$split" \
    --out "$work/work/samples/max/$split.h5"
done
model="$work/work/models/int_rel_char_full"
step "train int_rel_char_full ($device)" "$python" -m model.train --config workflow_config.yaml --settings "$settings" \
  --experiment int_rel_char_full --train "$work/work/samples/max/train.h5" --val "$work/work/samples/max/val.h5" \
  --out-dir "$model" --no-progress
step "evaluate on test ($device)" "$python" -m model.evaluate --config workflow_config.yaml --settings "$settings" \
  --experiment int_rel_char_full --checkpoint "$model/best.pt" --samples "$work/work/samples/max/test.h5" \
  --out "$work/work/eval/test.json"
"$python" -c '
import json, sys
report = json.load(open(sys.argv[1]))
for name, metric in report["metrics"].items():
    print(f"   {name}: {metric}")' "$work/work/eval/test.json"

# bf16 autocast vs float32: the same movie's global and track vectors.
movie=${movies[0]}
fp32=$("$python" -c 'import json, sys; s = json.loads(sys.argv[1]); s["visual"]["dtype"] = "float32"; print(json.dumps(s))' "$settings")
step "visual $movie float32 ($device)" "$python" -m extractors.visual --config workflow_config.yaml --settings "$fp32" --movie "$movie" \
  --out "$work/work/features/visual_fp32/$movie.h5"
"$python" - "$work/work/features/visual/$movie.h5" "$work/work/features/visual_fp32/$movie.h5" <<'PY'
import sys

import h5py
import numpy as np

auto, full = (h5py.File(path, "r") for path in sys.argv[1:3])
print(f"   autocast dtype: {auto.attrs['dtype']} vs {full.attrs['dtype']}")
worst = 0.0


def compare(name, dataset):
    global worst
    if isinstance(dataset, h5py.Dataset) and dataset.dtype.kind == "f" and dataset.size:
        a, b = dataset[()].astype(np.float64), full["clips"][name][()].astype(np.float64)
        worst = max(worst, np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12))


auto["clips"].visititems(compare)
print(f"   largest relative difference of a feature array, autocast vs float32: {worst:.4f}")
assert worst < 0.05, "autocast features differ from float32 by more than 5%"
PY

# Real-footage benchmarks (README "Performance"): the trailer must already be in bench/data/ (GPU
# machines are often offline: fetch it elsewhere with `python -m bench.footage --loop 10` and copy
# bench/data/ along); ffmpeg on the PATH for the JPEG reference path.
step "bench visual i3d ($device)" "$python" -m bench.bench_visual --device "$device" --weights "$weights" --batch-size 16
# The trailer as a movie of 8 clips: decode_workers auto (the CPUs minus one on a GPU) decodes them at
# once; the decode-only row is then the decode limit of this machine, and ours / decode limit says
# whether the GPU still waits on decoding.
step "bench visual i3d, 8 clips ($device)" "$python" -m bench.bench_visual --device "$device" --weights "$weights" \
  --batch-size 16 --clips 8 --quick
step "bench decode (1 and $(nproc) clips at once)" "$python" -m bench.bench_decode
step "bench visual resnext101 ($device, random weights)" "$python" -m bench.bench_visual --device "$device" \
  --backbone resnext101 --batch-size 16 --quick
step "bench visual memory ($device)" "$python" -m bench.bench_visual_memory --device "$device" --weights "$weights" \
  --batch-size 16
step "bench dialog ($device)" "$python" -m bench.bench_dialog --device "$device" --model "$bert" --sentences 4000 \
  --batch-size 128 --unbatched 200
echo "GPU-CHECK ok"
