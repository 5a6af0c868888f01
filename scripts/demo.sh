#!/usr/bin/env bash
# The main job, from a fresh machine: install packages, build, and animate with
# the bundled demo model (models/demo), which magicanimate.cpp trained itself on
# a synthetic DensePose world (scripts/train-demo.sh, docs/demo-model.md):
#   1. a synthetic figure (never seen in training) along a held-out synthetic
#      motion -> out/demo.mp4, out/demo_grid.mp4 (source | pose | result), out/demo_frames/
#   2. the same figure along the original's demo motion samples/running.mp4
#      -> out/demo_running.mp4, out/demo_running_grid.mp4
# The demo model works at its native 64x64 (models/demo/magicanimate.json). With the
# real weights, point --models at your pretrained_models folder (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
mkdir -p out
if [[ ! -f models/demo/magicanimate.json ]]; then
  # Until the demo model is shipped (scripts/train-demo.sh makes it): the bundled
  # random-weight test models, whose video shows noise-like colours, not a person.
  echo "demo: no models/demo yet (scripts/train-demo.sh trains it); animating with the random test models"
  ./build/magicanimate animate --models tests/data/models --source samples/monalisa.png --motion samples/running.mp4 \
    --size 64 --steps 3 --max-frames 24 --seed 1 --out out/demo.mp4 --grid out/demo_grid.mp4 --frames-out out/demo_frames
  echo "demo: wrote out/demo.mp4, out/demo_grid.mp4 and out/demo_frames/"
  exit 0
fi
# Held-out inputs: seed 424242 is not among the training seeds (1) nor the evaluation seeds (9001).
rm -rf out/demo_inputs
./build/magicanimate synth --out out/demo_inputs --clips 2 --frames 48 --seed 424242 --size 64 --quiet
ref=out/demo_inputs/clip_0000/images/0000.png
./build/magicanimate animate --models models/demo --source "$ref" --motion out/demo_inputs/clip_0001/densepose \
  --context 8 --seed 1 --out out/demo.mp4 --grid out/demo_grid.mp4 --frames-out out/demo_frames
./build/magicanimate animate --models models/demo --source "$ref" --motion samples/running.mp4 --max-frames 48 \
  --context 8 --seed 1 --out out/demo_running.mp4 --grid out/demo_running_grid.mp4
echo "demo: wrote out/demo.mp4, out/demo_grid.mp4, out/demo_frames/, out/demo_running.mp4 and out/demo_running_grid.mp4"
