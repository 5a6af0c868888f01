#!/usr/bin/env python3
"""Reference FID-Inception features for tests/unit/eval_metrics_test.cpp
(EvalFid.MatchesPytorchFidOnFormulaWeights).

Runs mseitzer/pytorch-fid's own InceptionV3 (src/pytorch_fid/inception.py; not
committed here). Bring it with the `fetch` tool and unpack it, e.g.
  git --git-dir=/work/.mirror/mseitzer+pytorch-fid/repo archive HEAD | tar -x -C /tmp/fid
then, from the repository root, with Debian's python3-torch / python3-torchvision:
  /usr/bin/python3 tests/data/gen/make_fid_fixture.py /tmp/fid

The real weights (pt_inception-2015-12-05-6726825d.pth, 91 MB) cannot be
committed, and random full-size weights would be as large, so every tensor is
filled from a formula the C++ test evaluates too (formula_tensor below):
  base = sin(0.61 i + 0.37 s), i = flat index, s = sum of the key's bytes mod 1000,
in float64, then conv weights 2 base / sqrt(fan_in), BN weight 1 + 0.2 base,
bias 0.1 base, running mean 0.1 base, running var 1 + 0.5 base^2, cast to float32.
Output: tests/data/eval/fid_tiny/fixture.safetensors with in (float [2, 3, 36, 40]
in [0, 1]), block0..2 (per-channel means of the first three output blocks, kept to
locate a mismatch; the test compares pool3) and
pool3 ([2, 2048]).
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_fixture_io import write_safetensors  # noqa: E402

sys.path.insert(0, os.path.join(sys.argv[1], "src"))
from pytorch_fid import inception as fid  # noqa: E402  (the fetched reference)

OUT = os.path.join("tests", "data", "eval", "fid_tiny", "fixture.safetensors")


def formula_tensor(name, shape):
    n = math.prod(shape)
    s = sum(name.encode()) % 1000
    base = torch.sin(torch.arange(n, dtype=torch.float64) * 0.61 + 0.37 * s).view(shape)
    if name.endswith("conv.weight"):
        fan_in = shape[1] * shape[2] * shape[3]
        t = 2 * base / math.sqrt(fan_in)
    elif name.endswith("bn.weight"):
        t = 1 + 0.2 * base
    elif name.endswith("bn.bias"):
        t = 0.1 * base
    elif name.endswith("running_mean"):
        t = 0.1 * base
    elif name.endswith("running_var"):
        t = 1 + 0.5 * base * base
    else:
        t = 0.01 * base  # fc.*: not used by the features
    return t.float()


def formula_state_dict(*_, **__):
    model = fid._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    model.Mixed_5b = fid.FIDInceptionA(192, pool_features=32)
    model.Mixed_5c = fid.FIDInceptionA(256, pool_features=64)
    model.Mixed_5d = fid.FIDInceptionA(288, pool_features=64)
    model.Mixed_6b = fid.FIDInceptionC(768, channels_7x7=128)
    model.Mixed_6c = fid.FIDInceptionC(768, channels_7x7=160)
    model.Mixed_6d = fid.FIDInceptionC(768, channels_7x7=160)
    model.Mixed_6e = fid.FIDInceptionC(768, channels_7x7=192)
    model.Mixed_7b = fid.FIDInceptionE_1(1280)
    model.Mixed_7c = fid.FIDInceptionE_2(2048)
    out = {}
    for k, v in model.state_dict().items():
        out[k] = v if k.endswith("num_batches_tracked") else formula_tensor(k, list(v.shape))
    return out


def main():
    fid.load_state_dict_from_url = formula_state_dict
    net = fid.InceptionV3(output_blocks=(0, 1, 2, 3)).eval()
    torch.manual_seed(7)
    x = torch.randint(0, 256, (2, 3, 36, 40)).float() / 255  # as ToTensor() of 8-bit frames
    with torch.no_grad():
        b0, b1, b2, b3 = net(x)
    write_safetensors(OUT, {"in": x, "block0": b0.mean((2, 3)), "block1": b1.mean((2, 3)),
                            "block2": b2.mean((2, 3)), "pool3": b3.flatten(1)})


if __name__ == "__main__":
    main()
