#!/usr/bin/env python3
"""Side by side: the ORIGINAL MagicAnimate pipeline and this engine on the same work.

Runs, one after the other and each in its own child process:
  1. ours:     `magicanimate bench --json` (every component, see `magicanimate bench --help`);
  2. ours:     `magicanimate animate` end to end on the inputs below (its peak RSS);
  3. original: its modules, each called once after the models are built, with the
               shapes and calls of its pipeline_animation.py (worker "components");
  4. original: AnimationPipeline.__call__ end to end (worker "e2e", its peak RSS);
then prints one Markdown table (seconds, peak RSS and original/ours for each).

The original runs on Debian's python3-torch through tests/data/gen/original_pipeline.py
(the shims and CPU workarounds the parity goldens use). Its code is the user's:
--original is a checkout of github.com/magic-research/magic-animate (the folder
holding magicanimate/), --diffusers diffusers v0.21.4's src/ folder. Nothing of
theirs is copied into this project. Inputs come from `magicanimate synth`.

Definitions (bench's, matched on the original's side):
  text_encoder          tokenizer + CLIP text encoder, one prompt ("")
  vae_encode_reference  the reference image (uint8) to latents: images2latents
  appearance_encoder    one call writing the reference bank, as the pipeline calls
                        it (the original: reference latents repeated for CFG, batch 2)
  controlnet_frame      one ControlNet call over an F-frame window / F
  unet3d_window         one UNet3D call on [2, 4, F, H/8, W/8] with the ControlNet
                        residuals and the reference bank (original: with the
                        reader's update/clear around it, as its pipeline does per window)
  vae_decode_frame      decoding n frames / n (n: bench's frames per call; the
                        original's decode_latents decodes one frame per call)
  denoise_step_*        one complete denoising step (appearance encoder, ControlNet,
                        every window's UNet, guidance, DDIM) of an F / 2F frame video
  end_to_end            F frames, N steps, windows of C (= F by default): text,
                        reference, denoising, decode; models already built
No warm-up call on either side (bench does none). Peak RSS per component: the
process's high-water mark while the component ran (/proc/self/clear_refs, VmHWM),
as bench reports it; end to end: ru_maxrss of a child process that loads the
models from --models and runs once (os.wait4), on both sides.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GEN = os.path.join(ROOT, "tests", "data", "gen")

MODEL_PARTS = [
    "stable-diffusion-v1-5/tokenizer", "stable-diffusion-v1-5/text_encoder", "stable-diffusion-v1-5/unet",
    "sd-vae-ft-mse", "MagicAnimate/appearance_encoder", "MagicAnimate/densepose_controlnet",
    "MagicAnimate/temporal_attention/temporal_attention.ckpt",
]

# (key in the reports, the table's label)
ROWS = [
    ("text_encoder", "text encoder"),
    ("vae_encode_reference", "reference VAE encode"),
    ("appearance_encoder", "appearance encoder"),
    ("controlnet_frame", "ControlNet (per frame)"),
    ("unet3d_window", "UNet window (CFG)"),
    ("vae_decode_frame", "VAE decode (per frame)"),
    ("denoise_step_F", "one denoising step, F frames"),
    ("denoise_step_2F", "one denoising step, 2F frames"),
    ("end_to_end", "end to end"),
    ("end_to_end_per_step", "end to end per step"),
    ("process", "end to end, whole process (start, load, run)"),
]


class Failure(Exception):
    pass


# ----------------------------------------------------------------- memory --
def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_measured(cmd, env, what):
    """Runs cmd in its own child process and measures its peak RSS with os.wait4."""
    t0 = time.perf_counter()
    out_f = tempfile.TemporaryFile(mode="w+")
    err_f = tempfile.TemporaryFile(mode="w+")
    try:
        p = subprocess.Popen(cmd, env=env, stdout=out_f, stderr=err_f)
    except OSError as e:
        raise Failure("%s: cannot start %s: %s" % (what, cmd[0], e))
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    out_f.seek(0)
    err_f.seek(0)
    out, err = out_f.read(), err_f.read()
    if p.returncode != 0:
        lines = [l for l in err.strip().splitlines() if l.strip()]
        raise Failure("%s failed (exit %d): %s" % (what, p.returncode, lines[-1] if lines else "no message"))
    return out, err, wall, usage.ru_maxrss / 1024.0  # kilobytes on Linux


# ------------------------------------------------------- original worker --
def load_images(inputs, frames):
    import numpy as np
    from PIL import Image
    clip = os.path.join(inputs, "clip_0000")
    source = np.array(Image.open(os.path.join(clip, "images", "0000.png")).convert("RGB"))
    control = np.stack([np.array(Image.open(os.path.join(clip, "densepose", "%04d.png" % i)).convert("RGB"))
                        for i in range(frames)])
    return source, control


class StopAfterStep(Exception):
    pass


def instrument(torch, models, stop_after_step):
    """Hooks timing the pipeline's first denoising step: from the appearance
    encoder's call (the step's first module) to the scheduler's step return."""
    pipe = models.pipeline
    rec = {"unet_calls": [], "step_start": None, "step_seconds": None, "peak_mb": None}
    state = {"step": 0, "unet": 0}

    def pre(_module, _inputs):
        if state["step"] == 0 and rec["step_start"] is None:
            rec["step_start"] = time.perf_counter()
            reset_peak_rss()
    hooks = [models.appearance_encoder.register_forward_pre_hook(pre),
             models.unet.register_forward_pre_hook(lambda m, i: state.__setitem__("unet", state["unet"] + 1))]
    step = pipe.scheduler.step

    def step_tap(*a, **k):
        out = step(*a, **k)
        if state["step"] == 0:
            rec["step_seconds"] = time.perf_counter() - rec["step_start"]
            rec["peak_mb"] = peak_rss_mb()
        rec["unet_calls"].append(state["unet"])
        state["unet"] = 0
        state["step"] += 1
        if stop_after_step:
            raise StopAfterStep()
        return out
    pipe.scheduler.step = step_tap

    # prepare_latents draws noise for 16 frames (clip_length) and repeats it
    # video_length // 16 times: the original pads its motion to a multiple of
    # 16 (animation.py's L). To time exactly F frames as bench does, the noise
    # is drawn for every frame when F is not a multiple of 16.
    prepare = pipe.prepare_latents

    def prepare_latents(batch, channels, video_length, *a, **k):
        if video_length % 16:
            k["clip_length"] = video_length
        return prepare(batch, channels, video_length, *a, **k)
    pipe.prepare_latents = prepare_latents

    def undo():
        for h in hooks:
            h.remove()
        pipe.scheduler.step = step
        pipe.prepare_latents = prepare
    return rec, undo


def run_pipeline(torch, models, source, control, steps, context, stop_after_step):
    rec, undo = instrument(torch, models, stop_after_step)
    generator = torch.Generator("cpu")
    generator.manual_seed(1)
    t0 = time.perf_counter()
    try:
        models.pipeline("", negative_prompt="", num_inference_steps=steps, guidance_scale=7.5,
                        width=source.shape[1], height=source.shape[0], video_length=len(control),
                        controlnet_condition=control, init_latents=None, generator=generator,
                        appearance_encoder=models.appearance_encoder, source_image=source,
                        context_frames=context, context_overlap=min(4, context - 1))
    except StopAfterStep:
        if not stop_after_step:
            raise
    rec["seconds"] = time.perf_counter() - t0
    undo()
    return rec


def loaded_blas(torch):
    """The BLAS library this process maps once a matmul ran (Debian's torch
    reaches it through libblas.so.3, the alternatives system's choice)."""
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))
    found = None
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if "/" in line else ""
            if any(n in path for n in ("openblas", "libmkl", "libblis")):
                return os.path.realpath(path)
            if found is None and "libblas" in path:
                found = os.path.realpath(path)
    return found or "unknown"


def worker(args):
    sys.path.insert(0, GEN)
    from original_pipeline import load_original_models, setup_original
    torch = setup_original(args.original, args.diffusers)
    torch.set_num_threads(args.threads)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": loaded_blas(torch)}
    t0 = time.perf_counter()
    models = load_original_models(args.models)
    result["load_seconds"] = time.perf_counter() - t0
    f, size = args.frames, args.size
    source, control = load_images(args.inputs, 2 * f if args.worker == "components" else f)

    if args.worker == "e2e":
        rec = run_pipeline(torch, models, source, control[:f], args.steps, args.context, False)
        result["end_to_end"] = {"seconds": rec["seconds"]}
        result["denoise_step_F"] = {"seconds": rec["step_seconds"], "peak_rss_mb": rec["peak_mb"]}
        result["unet_calls_per_step"] = rec["unet_calls"]
        with open(args.result, "w") as out:
            json.dump(result, out)
        return

    from magicanimate.models.mutual_self_attention import ReferenceAttentionControl
    from einops import rearrange
    pipe = models.pipeline
    comps = {}

    def measure(key, units, fn):
        reset_peak_rss()
        t = time.perf_counter()
        out = fn()
        comps[key] = {"seconds": (time.perf_counter() - t) / units, "peak_rss_mb": peak_rss_mb(),
                      "frames_per_call": units if key not in ("vae_decode_frame",) else 1}
        return out

    tok = models.tokenizer

    def encode_text():
        ids = tok("", padding="max_length", max_length=tok.model_max_length, truncation=True,
                  return_tensors="pt").input_ids
        return models.text_encoder(ids)[0]
    cond = measure("text_encoder", 1, encode_text)
    text = torch.cat([cond, cond])  # the pipeline's [uncond, cond] for the empty prompt and negative prompt

    ref = measure("vae_encode_reference", 1, lambda: pipe.images2latents(source[None], torch.float32))

    writer = ReferenceAttentionControl(models.appearance_encoder, do_classifier_free_guidance=True, mode="write",
                                       batch_size=1)
    reader = ReferenceAttentionControl(models.unet, do_classifier_free_guidance=True, mode="read", batch_size=1)
    t = torch.tensor(961)  # a DDIM timestep of a 25-step schedule, as bench's
    measure("appearance_encoder", 1,
            lambda: models.appearance_encoder(ref.repeat(2, 1, 1, 1), t, encoder_hidden_states=text,
                                              return_dict=False))

    g = torch.Generator("cpu")
    g.manual_seed(1)
    lat = size // 8
    latents = torch.randn((1, 4, f, lat, lat), generator=g)
    cond_images = pipe.prepare_condition(control[:f], 1, "cpu", torch.float32, True).chunk(2)[1]
    cn_text = text.repeat_interleave(f, 0).chunk(2)[1]
    down, mid = measure("controlnet_frame", f, lambda: models.controlnet(
        rearrange(latents, "b c f h w -> (b f) c h w"), t, encoder_hidden_states=cn_text, controlnet_cond=cond_images,
        conditioning_scale=1.0, return_dict=False))
    cache = {k: ([s[k:k + 1] for s in down], mid[k:k + 1]) for k in range(f)}
    context = [list(range(f))]
    down_r, mid_r = pipe.select_controlnet_res_samples(cache, context, True, 2, f)
    window = latents.repeat(2, 1, 1, 1, 1)

    def unet_window():
        reader.update(writer)
        out = models.unet(window, t, encoder_hidden_states=text[:2], down_block_additional_residuals=down_r,
                          mid_block_additional_residual=mid_r, return_dict=False)[0]
        reader.clear()
        return out
    measure("unet3d_window", 1, unet_window)
    writer.clear()
    del down, mid, cache

    n = args.decode_frames or f
    z = torch.randn((1, 4, n, lat, lat), generator=g)
    measure("vae_decode_frame", n, lambda: pipe.decode_latents(z, 0))

    # The steps use windows of F frames, as bench's (whatever --context the end-to-end run has).
    rec = run_pipeline(torch, models, source, control[:2 * f], 1, f, True)
    comps["denoise_step_2F"] = {"seconds": rec["step_seconds"], "peak_rss_mb": rec["peak_mb"]}
    result["unet_calls_step_2F"] = rec["unet_calls"][0] if rec["unet_calls"] else None
    if args.context != f:  # else the end-to-end run's first step is the F-frame step, as in bench
        rec = run_pipeline(torch, models, source, control[:f], 1, f, True)
        comps["denoise_step_F"] = {"seconds": rec["step_seconds"], "peak_rss_mb": rec["peak_mb"]}
    result["components"] = comps
    with open(args.result, "w") as out:
        json.dump(result, out)


# ----------------------------------------------------------------- parent --
def lscpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt_s(v):
    if v is None:
        return "n/a"
    return "%.4g" % v


def fmt_mb(v):
    return "n/a" if v is None else "%.0f" % v


def ratio(a, b):
    if a is None or b is None or b <= 0:
        return "n/a"
    return "%.2fx" % (a / b)


def check_inputs(args):
    for name in ("original", "diffusers"):
        if not getattr(args, name):
            raise Failure("--%s DIR is required" % name)
    if not os.path.isdir(os.path.join(args.original, "magicanimate")):
        raise Failure("--original %s: not a magic-animate checkout (no magicanimate/ folder in it)" % args.original)
    if not os.path.isfile(os.path.join(args.diffusers, "diffusers", "__init__.py")):
        raise Failure("--diffusers %s: not diffusers v0.21.4's src/ folder (no diffusers/__init__.py in it)"
                      % args.diffusers)
    if not os.path.isdir(args.models):
        raise Failure("--models %s: no such folder" % args.models)
    for part in MODEL_PARTS:
        if not os.path.exists(os.path.join(args.models, part)):
            raise Failure("--models %s: %s is missing (the original's pretrained_models layout)" % (args.models, part))
    if not (os.path.isfile(args.bin) and os.access(args.bin, os.X_OK)):
        raise Failure("--bin %s: no magicanimate executable there (build it, or pass --bin / MA_BIN)" % args.bin)
    if args.size % 64 or args.size < 64:
        raise Failure("--size must be a multiple of 64, got %d" % args.size)
    if not 1 <= args.frames <= 24 or not 1 <= args.context <= 24:
        raise Failure("--frames and --context must be between 1 and 24 (the motion modules' positions)")
    if args.steps < 1:
        raise Failure("--steps must be at least 1")
    probe = subprocess.run([sys.executable, "-c", "import torch, numpy, PIL, omegaconf, imageio, torchvision"],
                           capture_output=True, text=True)
    if probe.returncode:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        raise Failure("%s cannot run the original: %s (apt-get install python3-torch python3-torchvision "
                      "python3-numpy python3-pil python3-omegaconf python3-imageio ...; or set PYTHON)"
                      % (sys.executable, last))


def parent(args):
    args.models = os.path.abspath(args.models)
    if args.context is None:
        args.context = args.frames
    check_inputs(args)
    threads = args.threads
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads))
    work = tempfile.mkdtemp(prefix="ma_compare_")
    log = (lambda *a: None) if args.quiet else (lambda *a: print("compare:", *a, file=sys.stderr, flush=True))
    try:
        f = args.frames
        log("inputs: magicanimate synth, %d frames at %d" % (2 * f, args.size))
        inputs = os.path.join(work, "inputs")
        run_measured([args.bin, "synth", "--out", inputs, "--clips", "1", "--frames", str(2 * f), "--size",
                   str(args.size), "--seed", "1", "--quiet"], env, "magicanimate synth")
        clip = os.path.join(inputs, "clip_0000")

        log("ours: magicanimate bench")
        out, _, _, _ = run_measured([args.bin, "bench", "--models", args.models, "--size", str(args.size),
                                     "--frames", str(f), "--steps", str(args.steps), "--threads", str(threads),
                                     "--json", "--quiet"], env, "magicanimate bench")
        try:
            bench = json.loads(out)
        except ValueError:
            raise Failure("magicanimate bench: its output is not JSON")
        bc = bench["components"]
        ours = {
            "text_encoder": bc["text_encoder"], "vae_encode_reference": bc["vae_encode_reference"],
            "appearance_encoder": bc["appearance_encoder"], "controlnet_frame": bc["controlnet_frame"],
            "unet3d_window": bc["unet3d_window"], "vae_decode_frame": bc["vae_decode_frame"],
            "denoise_step_F": bc["denoise_step_%d_frames" % f],
            "denoise_step_2F": bc["denoise_step_%d_frames" % (2 * f)],
        }
        decode_frames = bc["vae_decode_frame"].get("frames_per_call", f)

        log("ours: magicanimate animate, end to end in its own process")
        out, _, wall, rss = run_measured(
            [args.bin, "animate", "--models", args.models, "--source", os.path.join(clip, "images", "0000.png"),
             "--motion", os.path.join(clip, "densepose"), "--max-frames", str(f), "--out",
             os.path.join(work, "ours.mp4"), "--size", str(args.size), "--steps", str(args.steps),
             "--context", str(args.context), "--overlap", str(min(4, args.context - 1)), "--L", "1",
             "--threads", str(threads), "--log-json"], env, "magicanimate animate")
        animate_s = None
        for line in out.splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("event") == "progress" and ev.get("phase") == "done":
                animate_s = ev.get("elapsed_s")
        if args.context == f:
            e2e_ours = bc["end_to_end"]["seconds"]
            e2e_ours_from = "bench"
        else:  # bench's end-to-end run uses windows of F frames
            e2e_ours = animate_s
            e2e_ours_from = "animate"
        ours["end_to_end"] = {"seconds": e2e_ours, "peak_rss_mb": rss}
        ours["process"] = {"seconds": wall, "peak_rss_mb": rss}

        py = [sys.executable, os.path.abspath(__file__), "--original", args.original, "--diffusers", args.diffusers,
              "--models", args.models, "--size", str(args.size), "--frames", str(f), "--steps", str(args.steps),
              "--threads", str(threads), "--context", str(args.context), "--inputs", inputs,
              "--decode-frames", str(decode_frames)]
        log("original: components")
        comp_json = os.path.join(work, "original_components.json")
        run_measured(py + ["--worker", "components", "--result", comp_json], env, "the original's components run")
        with open(comp_json) as fh:
            oc = json.load(fh)
        log("original: end to end in its own process")
        e2e_json = os.path.join(work, "original_e2e.json")
        _, _, owall, orss = run_measured(py + ["--worker", "e2e", "--result", e2e_json], env,
                                         "the original's end-to-end run")
        with open(e2e_json) as fh:
            oe = json.load(fh)
        orig = dict(oc["components"])
        if "denoise_step_F" not in orig:
            orig["denoise_step_F"] = oe["denoise_step_F"]
        orig["end_to_end"] = {"seconds": oe["end_to_end"]["seconds"], "peak_rss_mb": orss}
        orig["process"] = {"seconds": owall, "peak_rss_mb": orss}
        for side in (ours, orig):
            side["end_to_end_per_step"] = {"seconds": side["end_to_end"]["seconds"] / args.steps,
                                           "peak_rss_mb": None}

        report = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": lscpu_model(), "cores": os.cpu_count(), "threads": threads, "size": args.size, "frames": f,
            "steps": args.steps, "context": args.context, "models": args.models,
            "torch": oc["torch"], "torch_blas": oc.get("blas"), "libtorch": bench.get("machine", {}).get("libtorch"),
            "blas": bench.get("machine", {}).get("blas"), "python": platform.python_version(),
            "ours": ours, "original": orig, "ours_end_to_end_from": e2e_ours_from,
            "ours_animate_seconds": animate_s, "decode_frames_per_call": {"ours": decode_frames, "original": 1},
            "original_unet_calls_per_step": oe.get("unet_calls_per_step"),
            "original_unet_calls_step_2F": oc.get("unet_calls_step_2F"),
            "original_load_seconds": oe.get("load_seconds"), "ours_bench": bench,
        }
        print(table(report))
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(report, fh, indent=2)
    finally:
        if args.keep:
            print("compare: work folder kept: %s" % work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def shown_path(path):
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def table(r):
    f = r["frames"]
    lines = [
        "### MagicAnimate: the original (PyTorch) and magicanimate.cpp side by side",
        "",
        "- CPU: %s (%s cores); threads: %d each side" % (r["cpu"], r["cores"], r["threads"]),
        "- date: %s" % r["date"],
        "- work: %dx%d, %d frames (window of %d, CFG), %d DDIM step(s), context %d; models: %s"
        % (r["size"], r["size"], f, f, r["steps"], r["context"], shown_path(r["models"])),
        "- original: magic-animate + diffusers 0.21.4 on torch %s (Python %s, BLAS %s), float32; "
        "ours: libtorch %s (BLAS %s), float32" % (r["torch"], r["python"], r["torch_blas"], r["libtorch"], r["blas"]),
        "",
        "| component | original s | ours s | original/ours | original peak RSS MB | ours peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in ROWS:
        label = label.replace("2F frames", "%d frames" % (2 * f)).replace("F frames", "%d frames" % f)
        o, m = r["original"].get(key, {}), r["ours"].get(key, {})
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            label, fmt_s(o.get("seconds")), fmt_s(m.get("seconds")), ratio(o.get("seconds"), m.get("seconds")),
            fmt_mb(o.get("peak_rss_mb")), fmt_mb(m.get("peak_rss_mb"))))
    d = r["decode_frames_per_call"]
    lines += [
        "",
        "Each component is one call after the models are built (no warm-up); per-frame rows divide one call "
        "over its frames (ControlNet: %d frames per call on both sides; VAE decode: %d frames, %d per call ours, "
        "%d per call the original's decode_latents). Component peak RSS is the process's high-water mark while it "
        "ran (weights included); end-to-end peak RSS is that of a separate process loading the models and running "
        "once (ours: `magicanimate animate`, the original: AnimationPipeline.__call__). The end-to-end seconds "
        "exclude model loading (ours: from %s); the whole-process row includes interpreter start, imports and "
        "loading. The original's UNet calls per step: %s in the end-to-end run (%d frames, windows of %d), %s in the "
        "%d-frame step."
        % (f, d["ours"], d["ours"], d["original"], r["ours_end_to_end_from"],
           ", ".join(str(c) for c in r["original_unet_calls_per_step"] or []), f, r["context"],
           r["original_unet_calls_step_2F"], 2 * f),
    ]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--original", help="magic-animate checkout (the folder holding magicanimate/)")
    ap.add_argument("--diffusers", help="diffusers v0.21.4 src/ folder (holding diffusers/)")
    ap.add_argument("--models", default=os.path.join(ROOT, "tests", "data", "models"),
                    help="pretrained_models folder (default: the tiny test models)")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--frames", type=int, default=8, help="F: frames of the window and of the end-to-end video")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--context", type=int, help="frames per window of the end-to-end run (default: F)")
    ap.add_argument("--bin", default=os.environ.get("MA_BIN", os.path.join(ROOT, "build", "magicanimate")))
    ap.add_argument("--json", help="also write every figure to this JSON file")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (inputs, workers' JSON)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    # internal: the original's side, run in child processes
    ap.add_argument("--worker", choices=["components", "e2e"], help=argparse.SUPPRESS)
    ap.add_argument("--inputs", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--decode-frames", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    try:
        parent(args)
    except Failure as e:
        print("compare-original: %s" % e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
