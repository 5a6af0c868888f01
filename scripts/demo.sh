#!/usr/bin/env bash
# The main job, from a fresh machine: install packages, build, and animate the
# bundled sample (samples/monalisa.png following samples/running.mp4) with the
# bundled tiny test models. Writes out/demo.mp4, out/demo_grid.mp4 and
# out/demo_frames/. With real weights, point --models at your
# pretrained_models folder and drop --size/--steps/--max-frames (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
mkdir -p out
./build/magicanimate animate \
  --models tests/data/models \
  --source samples/monalisa.png \
  --motion samples/running.mp4 \
  --size 64 --steps 3 --max-frames 24 --seed 1 \
  --out out/demo.mp4 --grid out/demo_grid.mp4 --frames-out out/demo_frames
echo "demo: wrote out/demo.mp4, out/demo_grid.mp4 and out/demo_frames/"
