"""Stand-ins for the Python packages Debian lacks, installed into a scratch
folder on sys.path so that the ORIGINAL MagicAnimate and diffusers v0.21.4
code imports and runs on Debian's python3-torch. Shared by the fixture
generators (make_parity_case.py, make_train_step_case.py); each shim does only
what the original's code path needs:
  - safetensors: a numpy reader/writer of the format (8-byte header length,
    JSON header, raw little-endian data);
  - einops: rearrange/repeat for explicit patterns (named axes, groups, 1);
  - huggingface_hub / accelerate: names imported at diffusers' import time,
    never called on this path;
  - transformers (optional): CLIPTokenizer for the empty prompt only and
    CLIPTextModel in plain torch (the Hugging Face CLIP text transformer:
    causal self-attention, quick_gelu MLP, final layer norm) reading
    model.safetensors (or pytorch_model.bin without it);
  - tqdm (optional): a pass-through progress bar.
"""
import os
import sys
import textwrap

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
        st = os.path.join(d, "model.safetensors")
        weights = load_file(st) if os.path.exists(st) else torch.load(os.path.join(d, "pytorch_model.bin"),
                                                                       map_location="cpu")
        sd = {k.replace("text_model.", "", 1): v for k, v in weights.items()}
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


def install_shims(root, need_tqdm=False, need_transformers=False):
    """Writes the shims under ROOT and puts ROOT first on sys.path."""
    wanted = {"tqdm/": need_tqdm, "transformers/": need_transformers}
    for rel, text in SHIMS.items():
        if any(rel.startswith(k) and not on for k, on in wanted.items()):
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


def install_stable_baddbmm(torch):
    """Debian's PyTorch 1.13 CPU baddbmm with beta=0 does not ignore its input,
    and the attention code passes torch.empty() there (diffusers'
    attention_processor.py:450-464, the original's orig_attention.py:359,
    :660, :703): uninitialised memory turns into NaN now and then. bmm then
    scale is the same math."""
    baddbmm = torch.baddbmm

    def stable_baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
        if beta == 0 and out is None:
            return torch.bmm(batch1, batch2) * alpha
        return baddbmm(input, batch1, batch2, beta=beta, alpha=alpha, out=out)
    torch.baddbmm = stable_baddbmm
