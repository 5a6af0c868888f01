#!/usr/bin/env bash
# Rebuilds the demo model (models/demo) from nothing with magicanimate's own
# code, on the CPU: a synthetic DensePose world (`synth`), a small KL-VAE
# (`train --stage vae`), the base UNet trained from scratch together with the
# appearance encoder and the DensePose ControlNet (`train --stage 1 --trainable
# unet,appearance_encoder,controlnet`), the motion modules (`train --stage 2`),
# then `convert` to fp16 into models/demo. See docs/demo-model.md.
#
# Usage: scripts/train-demo.sh [--work DIR] [--out DIR] [--nproc N] [--until STAGE] [--eval]
#   --work DIR     where data, checkpoints and logs go (default: build/demo-train)
#   --out DIR      the exported models folder (default: models/demo; replaced when the export is new)
#   --nproc N      training processes, one thread each: 1 or 2 (default 2; data
#                  parallel, the same training either way up to float rounding)
#   --until STAGE  stop after STAGE: data, vae, stage1, stage2 or export
#   --eval         afterwards, evaluate on held-out clips (scripts/eval-demo.sh)
# Resumable: every stage continues from its newest checkpoint (Ctrl-C saves one)
# and is skipped once its last checkpoint exists, so the recipe can run in parts.
# Each stage's wall time goes to WORK/times.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
work="build/demo-train" out="models/demo" nproc=2 until="" eval=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --nproc) nproc="$2"; shift 2 ;;
    --until) until="$2"; shift 2 ;;
    --eval) eval=1; shift ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "train-demo: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$until" in "" | data | vae | stage1 | stage2 | export) ;; *) echo "train-demo: --until $until: not a stage" >&2; exit 2 ;; esac
bin="${MA_BIN:-$repo/build/magicanimate}"
[[ -x "$bin" ]] || scripts/build.sh
mkdir -p "$work"

# The recipe. 64x64 frames (8x8 latents): at this size the networks are small
# enough that two CPU cores train all of them in about an hour (docs/demo-model.md).
# Every step trains 8 samples (stage 1: 16; stage 2: 2 clips), split over the
# processes; at these sizes a second thread in one process gains little, a
# second process nearly doubles the throughput.
size=64
vae_steps=8000 vae_settle_steps=1000 stage1_steps=2000 stage2_steps=400
[[ "$nproc" == 1 || "$nproc" == 2 ]] || { echo "train-demo: --nproc must be 1 or 2 (a step's samples are split evenly)" >&2; exit 2; }

timed() {  # NAME COMMAND...: runs it and appends "NAME seconds" to WORK/times.txt
  local name="$1" start
  shift
  start=$(date +%s)
  "$@"
  echo "$name $(($(date +%s) - start))" >>"$work/times.txt"
}
stop_after() { [[ "$until" == "$1" ]] && { echo "train-demo: stopped after $1 (--until)"; exit 0; } || true; }

# Trains WORK/NAME to STEPS optimiser steps, resuming from its latest checkpoint.
stage() {
  local name="$1" steps="$2"
  shift 2
  local dir="$work/$name" resume=()
  if [[ -d "$dir/checkpoint-$steps" ]]; then echo "train-demo: $name already trained ($dir/checkpoint-$steps)"; return; fi
  [[ -e "$dir/latest" ]] && resume=(--resume latest)
  echo "train-demo: $name (${resume[*]:-from the start}) -> $dir"
  timed "$name" "$bin" train --out "$dir" --steps "$steps" --data "$work/data/train" --size "$size" \
    --nproc "$nproc" --threads 1 "${resume[@]}" "$@"
}

# 1. Data: 400 training clips; held-out clips use seeds never used in training.
if [[ ! -d "$work/data/train" ]]; then
  timed synth "$bin" synth --out "$work/data/train" --clips 400 --frames 24 --size "$size" --seed 1 --quiet
fi
[[ -d "$work/data/heldout" ]] || "$bin" synth --out "$work/data/heldout" --clips 16 --frames 24 --size "$size" --seed 9001 --quiet
stop_after data

# 2. The folder every network starts from: config files only (scripts/demo-model/),
#    plus the frozen text encoder and tokenizer. The prompt is always empty, so the
#    text encoder only supplies one constant embedding: the tiny random CLIP of the
#    test models does (its 32-wide output sets the UNet's cross_attention_dim).
init="$work/init"
if [[ ! -d "$init" ]]; then
  tiny="tests/data/models/stable-diffusion-v1-5"
  mkdir -p "$init.partial/stable-diffusion-v1-5/unet" "$init.partial/stable-diffusion-v1-5/text_encoder" \
    "$init.partial/sd-vae-ft-mse"
  cp -r "$tiny/tokenizer" "$tiny/scheduler" "$init.partial/stable-diffusion-v1-5/"
  cp "$tiny/text_encoder/config.json" "$tiny/text_encoder/model.safetensors" "$init.partial/stable-diffusion-v1-5/text_encoder/"
  cp scripts/demo-model/unet/config.json "$init.partial/stable-diffusion-v1-5/unet/"
  cp scripts/demo-model/vae/config.json "$init.partial/sd-vae-ft-mse/"
  mv "$init.partial" "$init"
fi

# 3. The KL-VAE from scratch (reconstruction + KL), calibrated at each save.
stage vae "$vae_steps" --stage vae --models "$init" --batch $((8 / nproc)) --lr 1e-3 --warmup 50 --save-every 500 --keep 2 --seed 1
# ... then 1000 steps at a tenth of the learning rate from it (the optimiser has no decay
# schedule: this is the step down), which settles the colours.
stage vae-settle "$vae_settle_steps" --stage vae --models "$work/vae/checkpoint-$vae_steps" --batch $((8 / nproc)) \
  --lr 1e-4 --save-every 250 --keep 2 --seed 4
vae="$work/vae-settle/checkpoint-$vae_settle_steps"
stop_after vae

# 4. Stage 1 with the base UNet: UNet, appearance encoder and ControlNet from scratch.
#    From scratch wants what fine-tuning does not: 16 images a step (at 8x8 latents
#    twice the batch costs less than twice the time), a cosine decay, Min-SNR-5 weights, and
#    checkpoints that publish the weights' moving average (docs/demo-model.md).
stage stage1 "$stage1_steps" --stage 1 --models "$vae" \
  --trainable unet,appearance_encoder,controlnet --batch $((16 / nproc)) --lr 3e-4 --lr-schedule cosine --warmup 100 \
  --snr-gamma 5 --ema-decay 0.999 --save-every 500 --keep 2 --seed 2
stop_after stage1

# 5. Stage 2: the motion modules alone, on 8-frame clips.
stage stage2 "$stage2_steps" --stage 2 --models "$work/stage1/checkpoint-$stage1_steps" --frames 8 \
  --batch $((2 / nproc)) --lr 1e-4 --warmup 20 --save-every 100 --keep 2 --seed 3
stop_after stage2

# 6. Export: a self-contained folder with fp16 weights (halves the size).
final="$work/stage2/checkpoint-$stage2_steps"
stamp="$work/exported-from"
if [[ ! -d "$out" || "$(cat "$stamp" 2>/dev/null)" != "$(cd "$final" && pwd -P)" ]]; then
  rm -rf "$out.new"
  "$bin" convert "$final" "$out.new" --dtype fp16
  rm -rf "$out"
  mv "$out.new" "$out"
  (cd "$final" && pwd -P) >"$stamp"
  echo "train-demo: exported $out ($(du -sh "$out" | cut -f1))"
fi
stop_after export

[[ $eval -eq 1 ]] && scripts/eval-demo.sh --work "$work" --models "$out"
echo "train-demo: done; stage times (s) in $work/times.txt:"
cat "$work/times.txt"
