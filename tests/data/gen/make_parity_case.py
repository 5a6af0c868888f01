#!/usr/bin/env python3
"""Runs the ORIGINAL MagicAnimate pipeline on the tiny models and writes a
parity case folder (case.json, golden.safetensors, source.png, control/,
frames/) like tests/data/cases/public.

The original's code is not part of this project: extract it to a scratch
folder first and point --original / --diffusers at it, e.g.

  git --git-dir=<magic-animate mirror> archive HEAD magicanimate | tar -x -C /tmp/ma
  git --git-dir=<diffusers mirror> archive v0.21.4 src | tar -x -C /tmp/diffusers
  python3 tests/data/gen/make_parity_case.py --original /tmp/ma --diffusers /tmp/diffusers/src \\
      --case tests/data/cases/public --reuse-inputs --context 16 --check
  python3 tests/data/gen/make_parity_case.py --original /tmp/ma --diffusers /tmp/diffusers/src \\
      --inputs tests/data/cases/public --out tests/data/cases/context8 --context 8 --overlap 2

Runs on Debian's python3-torch (1.13, CPU) with python3-numpy, python3-pil,
python3-tqdm, python3-regex, python3-requests, python3-packaging and
python3-filelock (diffusers checks those at import), python3-omegaconf,
python3-imageio and python3-torchvision (the original's utils/util.py imports
them). The setup and the model loading live in original_pipeline.py. Packages Debian lacks
are replaced by the shims of original_shims.py (next to this script),
transformers' CLIP tokenizer and text model included.
The pipeline runs as the original's demo does (pipeline_animation.py's
AnimationPipeline.__call__ with the original's models from
magicanimate/models), with three changes needed on a CPU-only machine:
Tensor.cuda() is the identity (pipeline_animation.py:652/654 call it), the
generator is torch.Generator('cpu'), the models stay in float32, and
torch.baddbmm with beta=0 is bmm then scale (see below).
"""
import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from original_pipeline import load_original_models, setup_original  # noqa: E402


# -------------------------------------------------------------- inputs -----
def load_inputs(folder, frames):
    source = np.array(Image.open(os.path.join(folder, "source.png")).convert("RGB"))
    control = [np.array(Image.open(os.path.join(folder, "control", "%04d.png" % i)).convert("RGB"))
               for i in range(frames)]
    return source, np.stack(control)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--original", required=True, help="folder holding the original's magicanimate/ package")
    ap.add_argument("--diffusers", required=True, help="diffusers v0.21.4 src/ folder (holding diffusers/)")
    ap.add_argument("--models", default=os.path.join(os.path.dirname(__file__), "..", "models"))
    ap.add_argument("--inputs", default=os.path.join(os.path.dirname(__file__), "..", "cases", "public"),
                    help="folder with source.png and control/0000.png... (64x64)")
    ap.add_argument("--out", required=True, help="case folder to write")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--L", type=int, default=16, help="the original's L: pad the motion to a multiple of it")
    ap.add_argument("--context", type=int, default=16, help="the pipeline's context_frames")
    ap.add_argument("--overlap", type=int, default=4, help="the pipeline's context_overlap")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--guidance", type=float, default=7.5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check", help="a golden.safetensors to compare with instead of writing")
    ap.add_argument("--lean", action="store_true",
                    help="write only case.json and a golden with the inputs, the noise and every step's tensors")
    args = ap.parse_args()

    torch = setup_original(args.original, args.diffusers)
    from safetensors import write as write_safetensors

    # Model loading as animation.py:75-138 does it (float32, no xformers): original_pipeline.py.
    models = load_original_models(args.models)
    text_encoder, controlnet, pipeline = models.text_encoder, models.controlnet, models.pipeline
    appearance_encoder = models.appearance_encoder

    # Inputs as animation.py:174-194: the motion padded with its last frame to a multiple of L.
    source, control = load_inputs(args.inputs, args.frames)
    original_length = control.shape[0]
    if control.shape[0] % args.L > 0:
        control = np.pad(control, ((0, args.L - control.shape[0] % args.L), (0, 0), (0, 0), (0, 0)), mode="edge")
    size = source.shape[0]

    # Taps: the tensors the engine records under the same names.
    taps = {"input.source_image_u8": source, "input.control_u8": control}
    text_calls = []
    encode = text_encoder.forward
    def text_tap(ids, attention_mask=None):
        out = encode(ids, attention_mask)
        i = len(text_calls)
        text_calls.append(i)
        taps["text.ids%d" % i] = ids.numpy().astype(np.int64)
        taps["text.embeddings%d" % i] = out[0].numpy()
        return out
    text_encoder.forward = text_tap

    def record_result(method, name):
        def tapped(*a, **k):
            out = method(*a, **k)
            taps[name] = out.numpy().copy()
            return out
        return tapped
    pipeline.prepare_latents = record_result(pipeline.prepare_latents, "pipeline.init_latents")
    pipeline.images2latents = record_result(pipeline.images2latents, "pipeline.ref_latents")

    sched = pipeline.scheduler
    step = sched.step
    steps_done = []
    def step_tap(noise_pred, t, latents, **k):
        i = len(steps_done)
        steps_done.append(i)
        if i == 0:
            taps["pipeline.timesteps"] = sched.timesteps.numpy().astype(np.int64)
        taps["step%d.latents_in" % i] = latents.numpy().copy()
        taps["step%d.noise_pred_guided" % i] = noise_pred.numpy().copy()
        out = step(noise_pred, t, latents, **k)
        taps["step%d.latents_out" % i] = out.prev_sample.numpy().copy()
        return out
    sched.step = step_tap

    cn_forward = controlnet.forward
    def controlnet_tap(sample, timestep, encoder_hidden_states=None, controlnet_cond=None, **k):
        out = cn_forward(sample, timestep, encoder_hidden_states=encoder_hidden_states,
                         controlnet_cond=controlnet_cond, **k)
        if "controlnet.in.sample" not in taps:  # the first call of step 0
            taps["controlnet.in.sample"] = sample.numpy().copy()
            taps["controlnet.in.timestep"] = torch.as_tensor(timestep).reshape(1).numpy().astype(np.int64)
            taps["controlnet.in.encoder_hidden_states"] = encoder_hidden_states.numpy().copy()
            taps["controlnet.in.cond"] = controlnet_cond.numpy().copy()
            down, mid = out
            for j, d in enumerate(down):
                taps["controlnet.out.down%d" % j] = d.numpy().copy()
            taps["controlnet.out.mid"] = mid.numpy().copy()
        return out
    controlnet.forward = controlnet_tap

    generator = torch.Generator("cpu")
    generator.manual_seed(args.seed)
    video = pipeline("", negative_prompt="", num_inference_steps=args.steps, guidance_scale=args.guidance,
                     width=size, height=size, video_length=len(control), controlnet_condition=control,
                     init_latents=None, generator=generator, appearance_encoder=appearance_encoder,
                     source_image=source, context_frames=args.context, context_overlap=args.overlap).videos
    taps["pipeline.video"] = video[:, :, :original_length].numpy()
    taps = {k: (v if v.dtype in (np.uint8, np.int64) else v.astype(np.float32)) for k, v in taps.items()}

    if args.check:
        from safetensors import read
        ref = read(args.check)
        worst = 0.0
        for k in sorted(ref):
            if k not in taps:
                print("%-40s missing here" % k)
                continue
            a, b = taps[k].astype(np.float64), ref[k].astype(np.float64)
            if a.shape != b.shape:
                print("%-40s shape %s vs %s" % (k, a.shape, b.shape))
                worst = float("inf")
                continue
            scale = max(np.abs(b).max(), 1e-12)
            rel = np.abs(a - b).max() / scale
            worst = max(worst, rel)
            print("%-40s max |diff| / max |ref| = %.3g" % (k, rel))
        print("worst: %.3g" % worst)
        return

    out = args.out
    if args.lean:
        taps = {k: v for k, v in taps.items()
                if k.startswith(("input.", "step")) or k in ("pipeline.init_latents", "pipeline.timesteps")}
    os.makedirs(out, exist_ok=True)
    write_safetensors(taps, os.path.join(out, "golden.safetensors"))
    if not args.lean:
        os.makedirs(os.path.join(out, "control"), exist_ok=True)
        os.makedirs(os.path.join(out, "frames"), exist_ok=True)
        Image.fromarray(source).save(os.path.join(out, "source.png"))
        for i in range(original_length):
            Image.fromarray(control[i]).save(os.path.join(out, "control", "%04d.png" % i))
        frames = (video[0, :, :original_length].permute(1, 2, 3, 0).numpy() * 255).astype(np.uint8)
        for i, f in enumerate(frames):
            Image.fromarray(f).save(os.path.join(out, "frames", "%04d.png" % i))
    case = {"generator": "tests/data/gen/make_parity_case.py", "size": size, "frames": args.frames,
            "L": args.L, "context_frames": args.context, "overlap": args.overlap, "steps": args.steps,
            "guidance": args.guidance, "seed": args.seed, "prompt": "", "original_length": original_length,
            "padded_length": int(control.shape[0]), "lean": args.lean,
            "shapes": {k: list(v.shape) for k, v in taps.items()}}
    with open(os.path.join(out, "case.json"), "w") as f:
        json.dump(case, f, indent=2)
    print("wrote", out)


if __name__ == "__main__":
    main()
