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
python3-filelock (diffusers checks those at import). Packages Debian lacks
are replaced by the small shims below, each doing only what the original's
code path needs:
  - transformers: CLIPTokenizer for the empty prompt only (the fixture's
    prompt; ids checked against the public case's text.ids) and CLIPTextModel
    in plain torch (the Hugging Face CLIP text transformer: causal
    self-attention, quick_gelu MLP, final layer norm) reading model.safetensors;
  - safetensors: a numpy reader/writer of the format (8-byte header length,
    JSON header, raw little-endian data);
  - einops: rearrange/repeat for explicit patterns (named axes, groups, 1);
  - huggingface_hub / accelerate: names imported at diffusers' import time,
    never called on this path.
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
import tempfile
import textwrap

import numpy as np
from PIL import Image

# ---------------------------------------------------------------- shims ----
SHIMS = {}

SHIMS["safetensors/__init__.py"] = '''
import json, struct
import numpy as np
_DT = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32,
       "U8": np.uint8, "I8": np.int8, "BOOL": np.bool_}
_NAME = {np.dtype(v).str: k for k, v in _DT.items()}

def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype=_DT[v["dtype"]]).reshape(v["shape"]).copy()
    return out

def write(arrays, path):
    header, blobs, off = {}, [], 0
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[k] = {"dtype": _NAME[np.dtype(a.dtype).newbyteorder("<").str if a.dtype.itemsize > 1 else a.dtype.str],
                     "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)

class SafetensorError(Exception):
    pass
'''

SHIMS["safetensors/torch.py"] = '''
import torch
from . import read, write

def load_file(path, device="cpu"):
    return {k: torch.from_numpy(v) for k, v in read(path).items()}

def save_file(tensors, path, metadata=None):
    write({k: v.detach().cpu().numpy() for k, v in tensors.items()}, path)
'''

SHIMS["einops/__init__.py"] = '''
import math

def _parse(side):
    groups, cur, depth = [], None, 0
    for tok in side.replace("(", " ( ").replace(")", " ) ").split():
        if tok == "(":
            cur = []
        elif tok == ")":
            groups.append(cur); cur = None
        elif cur is not None:
            cur.append(tok)
        else:
            groups.append([] if tok == "1" else [tok])
    return groups

def _sizes(shape, groups, known):
    sizes = dict(known)
    for dim, g in zip(shape, groups):
        unknown = [n for n in g if n not in sizes]
        prod = math.prod(sizes[n] for n in g if n in sizes)
        if len(unknown) == 1:
            sizes[unknown[0]] = dim // prod
        elif unknown:
            raise ValueError("einops shim: cannot infer " + str(unknown))
    return sizes

def _apply(t, pattern, allow_new, **known):
    left, right = [s.strip() for s in pattern.split("->")]
    lg, rg = _parse(left), _parse(right)
    if len(lg) != t.ndim:
        raise ValueError("einops shim: %s does not match %d dims" % (left, t.ndim))
    sizes = _sizes(t.shape, lg, known)
    lnames = [n for g in lg for n in g]
    rnames = [n for g in rg for n in g]
    new = [n for n in rnames if n not in lnames]
    if new and not allow_new:
        raise ValueError("einops shim: new axes in rearrange")
    x = t.reshape([sizes[n] for n in lnames] + [1] * len(new))
    order = lnames + new
    x = x.permute([order.index(n) for n in rnames])
    if new:
        x = x.expand([sizes[n] for n in rnames])
    return x.reshape([math.prod(sizes[n] for n in g) for g in rg])

def rearrange(t, pattern, **sizes):
    if not hasattr(t, "permute"):  # numpy
        import torch
        return _apply(torch.from_numpy(t), pattern, False, **sizes).numpy()
    return _apply(t, pattern, False, **sizes)

def repeat(t, pattern, **sizes):
    return _apply(t, pattern, True, **sizes)
'''

SHIMS["huggingface_hub/__init__.py"] = '''
def _dummy(*args, **kwargs):
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]  # used as a decorator
    raise RuntimeError("huggingface_hub shim: no network access")

def __getattr__(name):
    if name.endswith("Error") or name.endswith("Exception"):
        return type(name, (Exception,), {})
    if name[:1].isupper():
        return type(name, (), {"__init__": lambda self, *a, **k: None})
    return _dummy
__version__ = "0.16.4"
'''
SHIMS["huggingface_hub/utils/__init__.py"] = '''
from .. import __getattr__ as _ga
def __getattr__(name):
    if name == "is_jinja_available":
        return lambda: False
    return _ga(name)
'''
SHIMS["huggingface_hub/constants.py"] = '''
import os
hf_cache_home = os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
HUGGINGFACE_HUB_CACHE = os.path.join(hf_cache_home, "hub")
HF_HUB_OFFLINE = True
'''
SHIMS["huggingface_hub/file_download.py"] = '''
REGEX_COMMIT_HASH = __import__("re").compile(r"^[0-9a-f]{40}$")
from . import __getattr__
'''
SHIMS["accelerate/__init__.py"] = ""
SHIMS["accelerate/utils.py"] = "def set_seed(seed):\n    pass\n"

SHIMS["transformers/__init__.py"] = '''
import json, os
import torch
import torch.nn as nn

class _Out(tuple):
    @property
    def input_ids(self):
        return self[0]
    @property
    def attention_mask(self):
        return self[1]

class CLIPTokenizer:
    """The empty prompt only: <|startoftext|> <|endoftext|>, padded with the pad token."""
    @classmethod
    def from_pretrained(cls, path, subfolder=None):
        d = os.path.join(path, subfolder or "")
        t = cls()
        vocab = json.load(open(os.path.join(d, "vocab.json"), encoding="utf-8"))
        cfg = json.load(open(os.path.join(d, "tokenizer_config.json")))
        t.model_max_length = cfg.get("model_max_length", 77)
        t.bos = vocab["<|startoftext|>"]
        t.eos = vocab["<|endoftext|>"]
        t.pad = vocab[cfg.get("pad_token", "<|endoftext|>")]
        return t
    def __call__(self, text, padding="longest", max_length=None, truncation=False, return_tensors="pt"):
        texts = text if isinstance(text, list) else [text]
        if any(s != "" for s in texts):
            raise NotImplementedError("CLIPTokenizer shim: only the empty prompt")
        ids = [self.bos, self.eos]
        n = max_length if padding == "max_length" else len(ids)
        row = ids + [self.pad] * (n - len(ids))
        mask = [1, 1] + [0] * (n - 2)
        return _Out((torch.tensor([row] * len(texts)), torch.tensor([mask] * len(texts))))
    def batch_decode(self, ids):
        return [""] * len(ids)

class _Config(dict):
    __getattr__ = dict.get

class _Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.layer_norm1 = nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.layer_norm2 = nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.self_attn = nn.Module()
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            setattr(self.self_attn, n, nn.Linear(d, d))
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(d, c["intermediate_size"])
        self.mlp.fc2 = nn.Linear(c["intermediate_size"], d)
        assert c["hidden_act"] == "quick_gelu"
    def forward(self, x, mask):
        b, n, d = x.shape
        hd = d // self.heads
        h = self.layer_norm1(x)
        a = self.self_attn
        q = (a.q_proj(h) * hd ** -0.5).view(b, n, self.heads, hd).transpose(1, 2)
        k = a.k_proj(h).view(b, n, self.heads, hd).transpose(1, 2)
        v = a.v_proj(h).view(b, n, self.heads, hd).transpose(1, 2)
        w = torch.softmax(q @ k.transpose(-1, -2) + mask, dim=-1)
        x = x + a.out_proj((w @ v).transpose(1, 2).reshape(b, n, d))
        h = self.mlp.fc1(self.layer_norm2(x))
        h = h * torch.sigmoid(1.702 * h)
        return x + self.mlp.fc2(h)

class CLIPTextModel(nn.Module):
    """Hugging Face's CLIP text transformer (last_hidden_state only)."""
    @classmethod
    def from_pretrained(cls, path, subfolder=None):
        from safetensors.torch import load_file
        d = os.path.join(path, subfolder or "")
        m = cls(json.load(open(os.path.join(d, "config.json"))))
        sd = {k.replace("text_model.", "", 1): v for k, v in load_file(os.path.join(d, "model.safetensors")).items()}
        sd = {k: v for k, v in sd.items() if k != "embeddings.position_ids"}
        m.load_state_dict(sd, strict=True)
        return m.eval()
    def __init__(self, c):
        super().__init__()
        self.config = _Config(c)
        d = c["hidden_size"]
        self.embeddings = nn.Module()
        self.embeddings.token_embedding = nn.Embedding(c["vocab_size"], d)
        self.embeddings.position_embedding = nn.Embedding(c["max_position_embeddings"], d)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList([_Layer(c) for _ in range(c["num_hidden_layers"])])
        self.final_layer_norm = nn.LayerNorm(d, eps=c["layer_norm_eps"])
    @property
    def dtype(self):
        return self.final_layer_norm.weight.dtype
    @property
    def device(self):
        return self.final_layer_norm.weight.device
    def forward(self, ids, attention_mask=None):
        assert attention_mask is None  # SD's text encoder config has no use_attention_mask
        n = ids.shape[1]
        x = self.embeddings.token_embedding(ids) + self.embeddings.position_embedding(torch.arange(n))[None]
        mask = torch.full((n, n), torch.finfo(x.dtype).min).triu(1)[None, None]
        for layer in self.encoder.layers:
            x = layer(x, mask)
        return (self.final_layer_norm(x),)

CLIPFeatureExtractor = CLIPImageProcessor = CLIPVisionModelWithProjection = CLIPTextModelWithProjection = None
PreTrainedModel = nn.Module
'''

SHIMS["tqdm/__init__.py"] = '''
def tqdm(it=None, *args, **kwargs):
    return it if it is not None else range(0)
'''


def install_shims(root, need_tqdm):
    for rel, text in SHIMS.items():
        if rel.startswith("tqdm/") and not need_tqdm:
            continue
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
    # diffusers asks importlib.metadata whether safetensors is installed
    # before it reads *.safetensors weights (the tiny models have no .bin for
    # the appearance encoder and ControlNet).
    info = os.path.join(root, "safetensors-0.3.1.dist-info")
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: safetensors\nVersion: 0.3.1\n")
    sys.path.insert(0, root)


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

    import importlib.util
    install_shims(tempfile.mkdtemp(prefix="ma_shims_"), importlib.util.find_spec("tqdm") is None)
    sys.path.insert(0, args.diffusers)
    sys.path.insert(0, args.original)
    import torch
    torch.set_grad_enabled(False)
    torch.Tensor.cuda = lambda self, *a, **k: self  # pipeline_animation.py:652/654 (CPU-only here)
    # Debian's PyTorch 1.13 CPU baddbmm with beta=0 does not ignore its input,
    # and the attention code passes torch.empty() there (diffusers'
    # attention_processor.py:450-464, the original's orig_attention.py:359,
    # :660, :703): uninitialised memory turns into NaN now and then. bmm then
    # scale is the same math.
    baddbmm = torch.baddbmm
    def stable_baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
        if beta == 0 and out is None:
            return torch.bmm(batch1, batch2) * alpha
        return baddbmm(input, batch1, batch2, beta=beta, alpha=alpha, out=out)
    torch.baddbmm = stable_baddbmm

    from omegaconf import OmegaConf
    from diffusers import AutoencoderKL, DDIMScheduler
    from transformers import CLIPTextModel, CLIPTokenizer
    from safetensors import write as write_safetensors
    from magicanimate.models.unet_controlnet import UNet3DConditionModel
    from magicanimate.models.controlnet import ControlNetModel
    from magicanimate.models.appearance_encoder import AppearanceEncoderModel
    from magicanimate.pipelines.pipeline_animation import AnimationPipeline

    # The original's inference config (configs/inference/inference.yaml), as animation.py reads it.
    inference = OmegaConf.create(textwrap.dedent("""
        unet_additional_kwargs:
          unet_use_cross_frame_attention: false
          unet_use_temporal_attention: false
          use_motion_module: true
          motion_module_resolutions: [1, 2, 4, 8]
          motion_module_mid_block: false
          motion_module_decoder_only: false
          motion_module_type: Vanilla
          motion_module_kwargs:
            num_attention_heads: 8
            num_transformer_block: 1
            attention_block_types: [Temporal_Self, Temporal_Self]
            temporal_position_encoding: true
            temporal_position_encoding_max_len: 24
            temporal_attention_dim_div: 1
        noise_scheduler_kwargs:
          beta_start: 0.00085
          beta_end: 0.012
          beta_schedule: "linear"
        """))

    # Model loading as animation.py:75-138 does it (float32, no xformers).
    m = os.path.abspath(args.models)
    sd = os.path.join(m, "stable-diffusion-v1-5")
    tokenizer = CLIPTokenizer.from_pretrained(sd, subfolder="tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(sd, subfolder="text_encoder")
    unet = UNet3DConditionModel.from_pretrained_2d(
        sd, subfolder="unet", unet_additional_kwargs=OmegaConf.to_container(inference.unet_additional_kwargs))
    appearance_encoder = AppearanceEncoderModel.from_pretrained(os.path.join(m, "MagicAnimate"),
                                                                subfolder="appearance_encoder")
    vae = AutoencoderKL.from_pretrained(os.path.join(m, "sd-vae-ft-mse"))
    controlnet = ControlNetModel.from_pretrained(os.path.join(m, "MagicAnimate", "densepose_controlnet"))
    pipeline = AnimationPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                 controlnet=controlnet,
                                 scheduler=DDIMScheduler(**OmegaConf.to_container(inference.noise_scheduler_kwargs)))
    mm = torch.load(os.path.join(m, "MagicAnimate", "temporal_attention", "temporal_attention.ckpt"),
                    map_location="cpu")
    mm = mm["state_dict"] if "state_dict" in mm else mm
    missing, unexpected = pipeline.unet.load_state_dict(mm, strict=False)
    assert not unexpected, unexpected
    for mod in (vae, unet, text_encoder, appearance_encoder, controlnet):
        mod.eval()

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
