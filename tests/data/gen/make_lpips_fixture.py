#!/usr/bin/env python3
"""Reference outputs of LPIPS v0.1 (VGG) on a narrow random-weight VGG16, for
tests/unit/eval_metrics_test.cpp (EvalLpips.MatchesReferenceImplementationOnNarrowVgg).

Runs the reference implementation itself: richzhang/PerceptualSimilarity's
`lpips` package (BSD-2; not committed here). Bring it with the `fetch` tool and
unpack it, e.g.
  git --git-dir=/work/.mirror/richzhang+PerceptualSimilarity/repo archive HEAD | tar -x -C /tmp/ps
then, from the repository root, with Debian's python3-torch / python3-torchvision:
  /usr/bin/python3 tests/data/gen/make_lpips_fixture.py /tmp/ps

The trunk is torchvision's VGG16 `features` layout (conv / ReLU / max-pool at
the same indices) at widths 4, 8, 8, 16, 16 instead of 64 ... 512, so the
file stays small; the heads are the real v0.1 vgg.pth heads cut to those widths.
Output: tests/data/eval/lpips_tiny/fixture.safetensors with trunk.*, heads.*,
in0, in1, feature0..4 (trunk outputs for in0 after the scaling layer),
lpips_unit_input (forward(in0, in1): DisCo's [0, 1] call) and
lpips_normalized (forward(in0, in1, normalize=True)). For the command-line
test, the same narrow network also goes to tests/data/eval/lpips_tiny/ under the
real file names: vgg16-397923af.pth (trunk, torch.save zip format) and vgg.pth
(heads, the legacy pre-1.6 format via _use_new_zipfile_serialization=False), with
per_frame.json = the reference LPIPS of tests/data/eval/{pred,gt}/*.png read
as DisCo reads them (PIL RGB, ToTensor) in both protocols.
"""
import glob
import json
import os
import sys

import torch
import torchvision
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_fixture_io import write_safetensors  # noqa: E402

sys.path.insert(0, sys.argv[1])
import lpips  # noqa: E402  (the fetched reference implementation)
from lpips import pretrained_networks  # noqa: E402

WIDTHS = [4, 8, 8, 16, 16]
CFG = [4, 4, "M", 8, 8, "M", 8, 8, 8, "M", 16, 16, 16, "M", 16, 16, 16, "M"]
OUT = os.path.join("tests", "data", "eval", "lpips_tiny", "fixture.safetensors")


class NarrowVgg16:
    """Stands in for torchvision.models.vgg16(): only `.features` is used by lpips."""

    def __init__(self, pretrained=False, **_):
        self.features = torchvision.models.vgg.make_layers(CFG)


def main():
    torch.manual_seed(2024)
    pretrained_networks.tv.vgg16 = NarrowVgg16
    net = lpips.LPIPS(net="vgg", pretrained=False, verbose=False)
    real = torch.load(os.path.join(sys.argv[1], "lpips", "weights", "v0.1", "vgg.pth"), map_location="cpu")
    tensors = {}
    for k, lin in enumerate(net.lins):
        conv = torch.nn.Conv2d(WIDTHS[k], 1, 1, stride=1, padding=0, bias=False)
        conv.weight.data = real["lin%d.model.1.weight" % k][:, :WIDTHS[k]].clone()
        lin.model[1] = conv
        tensors["heads.lin%d.model.1.weight" % k] = conv.weight
    for name, p in net.net.named_parameters():
        # lpips names them slice<k>.<index>.<param>; torchvision's are features.<index>.<param>.
        _, index, param = name.split(".")
        if param == "bias":
            p.data = torch.randn_like(p) * 0.1
        tensors["trunk.features.%s.%s" % (index, param)] = p
    net.eval()
    in0 = torch.rand(2, 3, 32, 40)
    in1 = torch.rand(2, 3, 32, 40)
    with torch.no_grad():
        feats = net.net.forward(net.scaling_layer(in0))
        for k, f in enumerate(feats):
            tensors["feature%d" % k] = f
        tensors["lpips_unit_input"] = net.forward(in0, in1)
        tensors["lpips_normalized"] = net.forward(in0, in1, normalize=True)
    tensors["in0"] = in0
    tensors["in1"] = in1
    write_safetensors(OUT, tensors)

    folder = os.path.dirname(OUT)
    torch.save({k[len("trunk."):]: v.detach().clone() for k, v in tensors.items() if k.startswith("trunk.")},
               os.path.join(folder, "vgg16-397923af.pth"))
    torch.save({k[len("heads."):]: v.detach().clone() for k, v in tensors.items() if k.startswith("heads.")},
               os.path.join(folder, "vgg.pth"), _use_new_zipfile_serialization=False)
    to_tensor = transforms.ToTensor()
    frames = {}
    with torch.no_grad():
        for gt_path in sorted(glob.glob(os.path.join("tests", "data", "eval", "gt", "*.png"))):
            name = os.path.splitext(os.path.basename(gt_path))[0]
            a = to_tensor(Image.open(gt_path.replace(os.sep + "gt" + os.sep, os.sep + "pred" + os.sep)).convert("RGB"))
            b = to_tensor(Image.open(gt_path).convert("RGB"))
            frames[name] = {"disco": net(a[None], b[None]).item(),
                            "fixed": net(a[None], b[None], normalize=True).item()}
    with open(os.path.join(folder, "per_frame.json"), "w") as f:
        json.dump(frames, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
