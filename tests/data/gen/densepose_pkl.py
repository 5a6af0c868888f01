#!/usr/bin/env python3
"""Writes the .pkl reader fixtures (tests/data/densepose/pkl/) with real pickle + numpy,
the way detectron2's zoo files were written: pickle.dump({"model": {name: ndarray}, ...}).
Run with Debian's /usr/bin/python3 (numpy 1.24). Values are independently known
(arange), so the C++ test checks them without this script."""
import os, pickle, sys
import numpy as np

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "densepose", "pkl")
os.makedirs(out, exist_ok=True)


def model():
    return {
        "model": {
            "conv.weight": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) - 5.5,
            "conv.bias": np.array([1.5, -2.25], dtype=np.float32),
            "fortran": np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
            "ids": np.array([3, -7, 1 << 40], dtype=np.int64),
            "half": np.array([1.0, -2.0], dtype=np.float16),
            "double": np.array([0.125], dtype=np.float64),
            "scalar_shape": np.array(4.0, dtype=np.float32),
            "empty": np.zeros((0, 3), dtype=np.float32),
        },
        "__author__": "densepose fixture \u00e9",
        "matching_heuristics": True,
        "iteration": np.int64(7),  # a numpy scalar beside the weights: ignored
    }


for proto in (2, 4, 5):
    with open(os.path.join(out, f"zoo_p{proto}.pkl"), "wb") as f:
        pickle.dump(model(), f, protocol=proto)


class Reduce:
    """Emits exactly the given reduce tuple (to forge hostile files)."""
    def __init__(self, r): self.r = r
    def __reduce__(self): return self.r


recon = np.core.multiarray._reconstruct
f4 = np.dtype("f4")
hostile = {
    # shape says 1000x1000 floats, data holds 16 bytes
    "lying_shape": {"model": {"w": Reduce((recon, (np.ndarray, (0,), b"b"), (1, (1000, 1000), f4, False, b"\0" * 16)))}},
    # shape of 2^50 elements: refused before anything is allocated
    "huge_shape": {"model": {"w": Reduce((recon, (np.ndarray, (0,), b"b"), (1, (1 << 25, 1 << 25), f4, False, b"")))}},
    "os_system": {"model": {"w": Reduce((os.system, ("true",)))}},
    "numpy_load": {"model": {"w": Reduce((np.load, ("x.npy",)))}},
    "big_endian": {"model": {"w": np.arange(3, dtype=">f4")}},
    "object_array": {"model": {"w": np.array([None, 1], dtype=object)}},
}
for name, obj in hostile.items():
    with open(os.path.join(out, f"hostile_{name}.pkl"), "wb") as f:
        pickle.dump(obj, f, protocol=2 if name != "big_endian" else 4)
print("wrote", sorted(os.listdir(out)))
