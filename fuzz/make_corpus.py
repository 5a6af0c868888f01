#!/usr/bin/env python3
"""Regenerates the fuzz seed corpora from the test fixtures (run by hand, not in CI).

safetensors/: small valid files made of a few real fixture tensors (several
dtypes, with and without __metadata__), plus a real fixture header alone.
pickle/: real data.pkl files cut after their first entries (bare pickles) and
small torch.save zip archives built from those cuts and the matching records.
"""
import json
import pathlib
import pickletools
import struct
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent
MODELS = ROOT.parent / "tests" / "data" / "models"
OUT = ROOT / "corpus"

def read_safetensors(path):
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return raw, json.loads(raw[8:8 + n]), 8 + n

def write_safetensors(path, tensors, metadata=None):
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, blob) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + data)

def small_entries(path, count):
    """The first `count` tensors (by name) of a fixture that take at most 512 bytes."""
    raw, header, start = read_safetensors(path)
    picked = {}
    for name, e in sorted(header.items()):
        begin, end = e["data_offsets"] if name != "__metadata__" else (0, 1 << 30)
        if end - begin <= 512:
            picked[name] = (e["dtype"], e["shape"], raw[start + begin:start + end])
        if len(picked) == count:
            break
    return picked


def cut_pickle(pkl, entries):
    """The pickle of a state dict keeping only its first `entries` items."""
    depth, keys = 0, 0
    for op, arg, pos in pickletools.genops(pkl):
        if depth == 1 and op.name in ("BINUNICODE", "SHORT_BINUNICODE"):
            if keys == entries:
                return pkl[:pos] + b"u."
            keys += 1
        if op.name == "MARK":
            depth += 1
        elif op.name in ("TUPLE", "SETITEMS", "APPENDS", "LIST", "DICT"):
            depth -= 1
    return pkl

def main():
    st = OUT / "safetensors"
    pk = OUT / "pickle"
    st.mkdir(parents=True, exist_ok=True)
    pk.mkdir(parents=True, exist_ok=True)

    te = MODELS / "stable-diffusion-v1-5/text_encoder/model.safetensors"
    cn16 = MODELS / "MagicAnimate/densepose_controlnet/diffusion_pytorch_model.fp16.safetensors"
    write_safetensors(st / "text_encoder_small.safetensors", small_entries(te, 3))
    write_safetensors(st / "controlnet_fp16_small.safetensors", small_entries(cn16, 2), {"format": "pt"})
    write_safetensors(st / "mixed_dtypes.safetensors", {
        "f32": ("F32", [2], struct.pack("<2f", 1.5, -2.0)),
        "i64": ("I64", [1, 2], struct.pack("<2q", 0, 76)),
        "b": ("BOOL", [3], b"\x00\x01\x01"),
        "bf16": ("BF16", [1], b"\x80\x3f"),
        "empty": ("F32", [0, 4], b""),
    }, {"note": "seed"})
    raw, _, start = read_safetensors(te)
    (st / "text_encoder_header_only.safetensors").write_bytes(raw[:start])

    sources = {
        "temporal_attention": MODELS / "MagicAnimate/temporal_attention/temporal_attention.ckpt",
        "text_encoder": MODELS / "stable-diffusion-v1-5/text_encoder/pytorch_model.bin",
    }
    for label, path in sources.items():
        z = zipfile.ZipFile(path)
        prefix = next(n for n in z.namelist() if n.endswith("/data.pkl"))[:-len("data.pkl")]
        pkl = z.read(prefix + "data.pkl")
        for entries in (1, 3):
            cut = cut_pickle(pkl, entries)
            (pk / f"{label}_{entries}.pkl").write_bytes(cut)
            keys = sorted({arg for op, arg, pos in pickletools.genops(cut)
                           if op.name in ("BINUNICODE", "SHORT_BINUNICODE") and arg.isdigit()})
            records = {f"archive/data/{key}": z.read(prefix + "data/" + key) for key in keys}
            if sum(len(r) for r in records.values()) > 16384:
                continue  # seeds must stay small; the big embedding tables add nothing
            records.update({"archive/data.pkl": cut, "archive/byteorder": b"little", "archive/version": b"3\n"})
            with zipfile.ZipFile(pk / f"{label}_{entries}.zip", "w", zipfile.ZIP_STORED) as out:
                for name in sorted(records):
                    out.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), records[name])


if __name__ == "__main__":
    main()
