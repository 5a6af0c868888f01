#!/usr/bin/env bash
# Evaluates the demo model on held-out synthetic clips (seeds never used in
# training) with `magicanimate eval`, against two baselines: the same networks
# before training (stage 1's initial weights, with the trained VAE) and
# repeating the reference frame. Whole frames, and with --mask on the union of
# each frame's person mask and the reference's (--mask-union-first).
# Writes WORK/eval/<model>-<region>.json and prints a Markdown table
# (docs/demo-model.md shows it).
#
# With --self-pose it also animates each clip's reference along its own pose,
# repeated: a model that reads the reference redraws it (up to the VAE's round
# trip); one that ignores it draws some other figure (docs/demo-model.md).
#
# Usage: scripts/eval-demo.sh [--work DIR] [--models DIR] [--steps N] [--scheduler S] [--clips N] [--frames N] [--self-pose]
#   --work DIR    the train-demo work folder (default: build/demo-train)
#   --models DIR  the trained model (default: models/demo)
#   --steps N     denoising steps (default 25)
#   --scheduler S animate's sampler: ddim (default) or dpmpp-2m
#   --clips N     the first N held-out clips (default 8)
#   --frames N    the first N frames of each (default 16)
#   --self-pose   also score the trained model on the self-pose clips
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
work="build/demo-train" models="models/demo" steps=25 scheduler=ddim clips=8 frames=16 self_pose=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --scheduler) scheduler="$2"; shift 2 ;;
    --clips) clips="$2"; shift 2 ;;
    --frames) frames="$2"; shift 2 ;;
    --self-pose) self_pose=1; shift ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "eval-demo: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
bin="${MA_BIN:-$repo/build/magicanimate}"
heldout="$work/data/heldout"
[[ -d "$heldout" ]] || { echo "eval-demo: no held-out clips in $heldout (run scripts/train-demo.sh first)" >&2; exit 1; }
ev="$work/eval"
mkdir -p "$ev"

# Ground truth and masks in eval's layout: <clip>/<frame>.png, the first --frames of the first --clips.
rm -rf "$ev/gt" "$ev/masks" "$ev/pred/reference-copy"
mkdir -p "$ev/gt" "$ev/masks" "$ev/pred/reference-copy"
: >"$ev/videos.txt"
for clip in $(find "$heldout" -mindepth 1 -maxdepth 1 -type d | sort | head -n "$clips"); do
  name="$(basename "$clip")" src="$(cd "$clip" && pwd)"
  echo "$name" >>"$ev/videos.txt"
  mkdir -p "$ev/gt/$name" "$ev/masks/$name" "$ev/pred/reference-copy/$name"
  for f in $(ls "$src/images" | sort | head -n "$frames"); do
    ln -s "$src/images/$f" "$ev/gt/$name/$f"
    ln -s "$src/masks/$f" "$ev/masks/$name/$f"
    ln -s "$src/images/0000.png" "$ev/pred/reference-copy/$name/$f"  # baseline: the reference repeated
  done
done

# Baseline: the untrained networks, exactly as stage 1 started them (one step
# at learning rate 1e-30, too small to move an fp32 weight, writes them out), with the trained VAE.
untrained="$work/untrained"
if [[ ! -d "$untrained/checkpoint-1" ]]; then
  rm -rf "$untrained"
  "$bin" train --stage 1 --models "$work/vae-settle/latest" --data "$work/data/train" --out "$untrained" --size 64 \
    --trainable unet,appearance_encoder,controlnet --steps 1 --lr 1e-30 --weight-decay 0 --seed 2 --threads 1 --quiet
fi

animate() {  # NAME MODELS [DATASET]
  rm -rf "$ev/pred/$1"
  "$bin" animate --dataset "${3:-$heldout}" --videos "$ev/videos.txt" --max-frames "$frames" --models "$2" \
    --out "$ev/pred/$1" --size 64 --steps "$steps" --scheduler "$scheduler" --context 8 --seed 1 --quiet
}
animate trained "$models"
animate untrained "$untrained/checkpoint-1"

score() {  # NAME GT MASKS: NAME's frames scored whole and masked, into WORK/eval/NAME-{frame,masked}.json
  local common=(--pred "$ev/pred/$1" --gt "$2" --metrics l1,psnr,ssim --protocol fixed --skip-first)
  "$bin" eval "${common[@]}" --json >"$ev/$1-frame.json"
  "$bin" eval "${common[@]}" --mask "$3" --mask-union-first --json >"$ev/$1-masked.json"
}
header() { echo "| model | L1 | PSNR | SSIM | masked L1 | masked PSNR | masked SSIM |"; echo "|---|---|---|---|---|---|---|"; }
row() {  # NAME: its table row, from score's files
  local r="| $1" region k
  for region in frame masked; do
    for k in l1 psnr ssim; do
      r+=" | $(sed -nE "s/.*\"$k\": *([-0-9.e+]+).*/\1/p" "$ev/$1-$region.json" | head -n1)"
    done
  done
  echo "$r |"
}

header
for m in trained untrained reference-copy; do
  score "$m" "$ev/gt" "$ev/masks"
  row "$m"
done

[[ $self_pose -eq 1 ]] || exit 0
# The self-pose clips: every frame, pose and mask is the reference's own (as
# animate's dataset, and in eval's <clip>/<frame> layout for the scores).
rm -rf "$ev/self-pose" "$ev/self-pose-gt" "$ev/self-pose-masks"
while read -r name; do
  src="$(cd "$heldout/$name" && pwd)"
  mkdir -p "$ev/self-pose-gt/$name" "$ev/self-pose-masks/$name"
  for f in $(ls "$src/images" | sort | head -n "$frames"); do
    for k in images densepose masks; do mkdir -p "$ev/self-pose/$name/$k"; ln -s "$src/$k/0000.png" "$ev/self-pose/$name/$k/$f"; done
    ln -s "$src/images/0000.png" "$ev/self-pose-gt/$name/$f"
    ln -s "$src/masks/0000.png" "$ev/self-pose-masks/$name/$f"
  done
done <"$ev/videos.txt"
animate trained-self-pose "$models" "$ev/self-pose"
score trained-self-pose "$ev/self-pose-gt" "$ev/self-pose-masks"
echo
echo "Self-pose (each clip's reference along its own pose, repeated):"
header
row trained-self-pose
