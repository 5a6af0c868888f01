#!/usr/bin/env python3
"""Reference FID-VID / FVD features for tests/unit/eval_video_metrics_test.cpp
and the `eval --metrics fid-vid,fvd` case of tests/unit/eval_cli_test.cpp.

Runs DisCo's own code (Wangt-CN/DisCo, tool/metrics at ef1e88e; not committed here):
resnet3d.py (kenshohara's 3D ResNet), inception3d.py (piergiaj's InceptionI3d),
resize.py (make_resizer) and utils.py's DatasetFVDVideoFromFramesResize (the
stride-1 16-frame windows, PIL bicubic on float channels, ActivityNet mean or
x/127.5 - 1). Bring it with the `fetch` tool and unpack it, e.g.
  G=/work/.mirror/Wangt-CN+DisCo/repo; mkdir -p /tmp/disco/tool/metrics
  for f in resnet3d inception3d resize utils; do
    git --git-dir=$G show ef1e88e:tool/metrics/$f.py > /tmp/disco/tool/metrics/$f.py; done
then, from the repository root, with Debian's python3-torch / python3-pil / python3-opencv:
  /usr/bin/python3 tests/data/gen/make_video_metric_case.py /tmp/disco

The real weights (resnet-50-kinetics.pth 356 MB, i3d_pretrained_400.pt 50 MB)
cannot be committed, so the networks are DisCo's classes at reduced widths
(and fewer ResNet blocks) with random weights, saved in the real files'
layouts under the real names: resnet-50-kinetics.pth as kenshohara's
train.py saves it ({epoch, arch, state_dict with DataParallel's "module.",
optimizer}, legacy pre-1.6 format, no num_batches_tracked, like the 2017
file), i3d_pretrained_400.pt as a plain state dict (zip format).
The legacy format names storages by object id, so a rerun writes the same tensors
in another byte order (the other outputs are byte-identical).
Output in tests/data/eval/video_tiny/:
  weights/{resnet-50-kinetics.pth, i3d_pretrained_400.pt}
  pred/<video>/<frame>.png, gt/<video>/<frame>.png (two videos, 17 and 16 frames)
  fixture.safetensors: resize112 (frame 0 of gt/v901, channel 0, PIL 'F' bicubic
  to 112x112), rn50_in0 (the first window's network input, channel means per
  frame), {pred,gt}_rn50 [windows, 32], {pred,gt}_i3d [windows, 400], in the
  order of DisCo's dataset (sorted frame names).
"""
import os
import shutil
import sys
import tempfile
import types

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_fixture_io import write_safetensors  # noqa: E402

DISCO = sys.argv[1]
sys.path.insert(0, DISCO)
sys.path.insert(0, os.path.join(DISCO, "tool", "metrics"))
for name in ("ffmpeg", "imageio"):  # imported by utils.py, unused by the frame datasets
    sys.modules.setdefault(name, types.ModuleType(name))
import resnet3d  # noqa: E402
import inception3d  # noqa: E402
from resize import make_resizer  # noqa: E402
from tool.metrics.utils import DatasetFVDVideoFromFramesResize  # noqa: E402

OUT = os.path.join("tests", "data", "eval", "video_tiny")
VIDEOS = {"v901": 17, "v902": 16}  # 2 + 1 windows of 16
H, W = 32, 40


def tiny_resnet3d():
    """resnet3d.ResNet's __init__ with planes (2, 4, 4, 8), stem 4, blocks (1, 2, 1, 1)."""
    m = resnet3d.ResNet.__new__(resnet3d.ResNet)
    torch.nn.Module.__init__(m)
    m.last_fc = False
    m.inplanes = 4
    m.conv1 = torch.nn.Conv3d(3, 4, kernel_size=7, stride=(1, 2, 2), padding=(3, 3, 3), bias=False)
    m.bn1 = torch.nn.BatchNorm3d(4)
    m.relu = torch.nn.ReLU(inplace=True)
    m.maxpool = torch.nn.MaxPool3d(kernel_size=(3, 3, 3), stride=2, padding=1)
    m.layer1 = m._make_layer(resnet3d.Bottleneck, 2, 1, "B")
    m.layer2 = m._make_layer(resnet3d.Bottleneck, 4, 2, "B", stride=2)
    m.layer3 = m._make_layer(resnet3d.Bottleneck, 4, 1, "B", stride=2)
    m.layer4 = m._make_layer(resnet3d.Bottleneck, 8, 1, "B", stride=2)
    m.avgpool = torch.nn.AvgPool3d((1, 4, 4), stride=1)  # sample_size 112, sample_duration 16
    m.fc = torch.nn.Linear(32, 400)
    return m


def tiny_i3d():
    """InceptionI3d(400, in_channels=3) with every width replaced by a small one."""
    m = inception3d.InceptionI3d(400, in_channels=3)
    U, M = inception3d.Unit3D, inception3d.InceptionModule
    m.end_points["Conv3d_1a_7x7"] = U(3, 4, [7, 7, 7], stride=(2, 2, 2), padding=(3, 3, 3))
    m.end_points["Conv3d_2b_1x1"] = U(4, 4, [1, 1, 1], padding=0)
    m.end_points["Conv3d_2c_3x3"] = U(4, 6, [3, 3, 3], padding=1)
    widths = [[2, 2, 3, 1, 2, 2], [2, 3, 2, 2, 3, 1], [3, 2, 2, 1, 2, 2], [2, 2, 3, 2, 2, 1], [1, 2, 2, 2, 3, 2],
              [2, 3, 3, 1, 2, 2], [3, 2, 4, 2, 2, 2], [2, 2, 3, 2, 2, 3], [4, 3, 4, 2, 3, 2]]
    c = 6
    for name, w in zip(["Mixed_3b", "Mixed_3c", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f",
                        "Mixed_5b", "Mixed_5c"], widths):
        m.end_points[name] = M(c, w, name)
        c = w[0] + w[2] + w[4] + w[5]
    m.logits = U(c, 400, [1, 1, 1], padding=0, activation_fn=None, use_batch_norm=False, use_bias=True, name="logits")
    m.build()
    return m


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            r = torch.randn(t.shape, generator=g)
            if name.endswith("running_var"):
                t.copy_(0.5 + r.abs())
            elif name.endswith("running_mean") or name.endswith("bias"):
                t.copy_(0.1 * r)
            elif name.endswith("bn.weight") or name.endswith("bn1.weight") or name.endswith("bn2.weight") \
                    or name.endswith("bn3.weight") or name.endswith("downsample.1.weight"):
                t.copy_(1 + 0.2 * r)
            else:  # conv / linear weights: variance-preserving
                fan_in = t[0].numel()
                t.copy_(r * (2.0 / fan_in) ** 0.5)
    return model.eval()


def make_frames():
    rng = np.random.default_rng(11)
    videos = {}
    for v, n in VIDEOS.items():
        base = rng.integers(0, 256, (H // 4, W // 4, 3)).astype(np.float64)
        gt, pred = [], []
        for i in range(n):
            coarse = np.roll(base, i, axis=1) + rng.normal(0, 12, base.shape)
            img = np.asarray(Image.fromarray(np.clip(coarse, 0, 255).astype(np.uint8)).resize((W, H), Image.BILINEAR))
            img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
            gt.append(img)
            pred.append(np.clip(img.astype(np.int16) + rng.integers(-40, 41, img.shape), 0, 255).astype(np.uint8))
        videos[v] = {"gt": gt, "pred": pred}
    return videos


def main():
    torch.manual_seed(0)
    rn = randomise(tiny_resnet3d(), 1)
    i3d = randomise(tiny_i3d(), 2)
    wdir = os.path.join(OUT, "weights")
    os.makedirs(wdir, exist_ok=True)
    state = {"module." + k: v.clone() for k, v in rn.state_dict().items() if not k.endswith("num_batches_tracked")}
    optimizer = {"state": {}, "param_groups": [{"lr": 0.1, "momentum": 0.9, "dampening": 0.9, "weight_decay": 1e-3,
                                                "nesterov": False, "params": list(range(len(state)))}]}
    torch.save({"epoch": 200, "arch": "resnet-50", "state_dict": state, "optimizer": optimizer},
               os.path.join(wdir, "resnet-50-kinetics.pth"), _use_new_zipfile_serialization=False)
    torch.save(i3d.state_dict(), os.path.join(wdir, "i3d_pretrained_400.pt"))

    videos = make_frames()
    out = {}
    flat = tempfile.mkdtemp()
    try:
        for side in ("pred", "gt"):
            files = []
            for v, frames in videos.items():
                d = os.path.join(OUT, side, v)
                os.makedirs(d, exist_ok=True)
                for i, img in enumerate(frames[side]):
                    Image.fromarray(img).save(os.path.join(d, "%04d.png" % (i + 1)))
                    # DisCo's layout: one flat folder, frames named TiktokDance_<video>_<index>.
                    f = os.path.join(flat, side, "TiktokDance_%s_%04d.png" % (v[1:], i + 1))
                    os.makedirs(os.path.dirname(f), exist_ok=True)
                    shutil.copy(os.path.join(d, "%04d.png" % (i + 1)), f)
                    files.append(f)
            with torch.no_grad():
                rn_set = DatasetFVDVideoFromFramesResize(files, 16, "FVD-3DRN50", 112)
                i3d_set = DatasetFVDVideoFromFramesResize(files, 16, "FVD-3DInception", 224)
                assert len(rn_set) == 3 and len(i3d_set) == 3
                # compute_3d_video_prediction: the model on each sample's segments, their mean.
                out[side + "_rn50"] = torch.cat([rn(rn_set[i]).mean(0, keepdim=True) for i in range(len(rn_set))])
                out[side + "_i3d"] = torch.cat([i3d(i3d_set[i]).mean(0, keepdim=True) for i in range(len(i3d_set))])
                if side == "gt":
                    out["rn50_in0"] = rn_set[0][0].mean(dim=(2, 3))  # [3, 16]
    finally:
        shutil.rmtree(flat)
    resize = make_resizer("PIL", False, "bicubic", (112, 112))
    out["resize112"] = torch.from_numpy(resize(videos["v901"]["gt"][0])[:, :, 0].copy())
    write_safetensors(os.path.join(OUT, "fixture.safetensors"), out)
    for k, v in out.items():
        print(k, tuple(v.shape), float(v.double().abs().mean()))


if __name__ == "__main__":
    main()
