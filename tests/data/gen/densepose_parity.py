#!/usr/bin/env python3
"""DensePose R-CNN parity fixture, made by running detectron2 itself (projects/DensePose) on CPU.

Needs Debian's python3-torch 1.13 / python3-torchvision 0.14 / numpy / opencv / PIL / yaml / tabulate /
termcolor / portalocker / cloudpickle / tqdm, and snapshots of facebookresearch/detectron2, fvcore, iopath and
rbgirshick/yacs (pure Python; not committed) on the path: DENSEPOSE_SRC=/dir/with/those/four checkouts
named facebookresearch+detectron2 etc. ROIAlign / NMS run through torchvision.ops (detectron2._C is
absent); pycocotools and aiofiles are stubbed (only imported, never used on this path).

For each config (the real architecture with small channel counts set through the config) it writes
tests/data/densepose/parity/<name>/:
  model_final.pkl   random weights as a zoo-style pickle (numpy dict; protocol 2 for one, 4 for the other)
  config.json       the config values the C++ side needs (the rest are the zoo defaults)
  frame<k>.png      the input frames (RGB)
  expected.safetensors  per frame: resized size, FPN maps p2..p6, proposals, boxes, scores, classes,
                    coarse/fine segmentation, U, V, per-box labels/uv and the rendered frame (viridis, RGB)
The rendering is vid2densepose's: a viridis[0] canvas, DensePoseResultsFineSegmentationVisualizer(alpha=1,
cmap=COLORMAP_VIRIDIS) over every detection in the predictor's order.
"""
import json, os, pickle, sys, types

SRC = os.environ.get("DENSEPOSE_SRC", "/tmp/dp_py")
sys.path[:0] = [f"{SRC}/facebookresearch+detectron2", f"{SRC}/facebookresearch+detectron2/projects/DensePose",
                f"{SRC}/facebookresearch+fvcore", f"{SRC}/facebookresearch+iopath", f"{SRC}/rbgirshick+yacs"]


class _Stub(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (), {})


for m in ["aiofiles", "aiofiles.os", "pycocotools", "pycocotools.coco", "pycocotools.cocoeval", "pycocotools.mask"]:
    sys.modules[m] = _Stub(m)

import cv2
import numpy as np
import torch
from PIL import Image
from detectron2.config import get_cfg
from detectron2.engine import DefaultPredictor
from detectron2.modeling import build_model
from densepose import add_densepose_config
from densepose.vis.densepose_results import DensePoseResultsFineSegmentationVisualizer
from densepose.vis.extractor import DensePoseResultExtractor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st_write

DATA = os.path.join(HERE, "..")
CONFIGS = os.path.join(SRC, "facebookresearch+detectron2/projects/DensePose/configs")

TINY = {
    "MODEL.RESNETS.WIDTH_PER_GROUP": 8, "MODEL.RESNETS.STEM_OUT_CHANNELS": 8, "MODEL.RESNETS.RES2_OUT_CHANNELS": 32,
    "MODEL.FPN.OUT_CHANNELS": 32, "MODEL.ROI_BOX_HEAD.FC_DIM": 64,
    "MODEL.ROI_DENSEPOSE_HEAD.DECODER_CONV_DIMS": 32, "MODEL.ROI_DENSEPOSE_HEAD.DECODER_NUM_CLASSES": 32,
    "MODEL.ROI_DENSEPOSE_HEAD.CONV_HEAD_DIM": 32, "MODEL.ROI_DENSEPOSE_HEAD.NUM_STACKED_CONVS": 2,
    "MODEL.ROI_DENSEPOSE_HEAD.POOLER_RESOLUTION": 8, "TEST.DETECTIONS_PER_IMAGE": 3,
    "INPUT.MIN_SIZE_TEST": 160, "INPUT.MAX_SIZE_TEST": 240,
}
CASES = [  # name, zoo config, pickle protocol, frame sizes (w, h)
    ("R_50_FPN_s1x", "densepose_rcnn_R_50_FPN_s1x.yaml", 2, [(64, 64), (100, 60), (72, 96)]),
    ("R_50_FPN_DL_s1x", "densepose_rcnn_R_50_FPN_DL_s1x.yaml", 4, [(64, 64), (90, 70)]),
]


def make_cfg(zoo_yaml, weights):
    cfg = get_cfg()
    add_densepose_config(cfg)
    cfg.merge_from_file(os.path.join(CONFIGS, zoo_yaml))
    opts = []
    for k, v in TINY.items():
        opts += [k, v]
    cfg.merge_from_list(opts)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.WEIGHTS = weights
    return cfg


def randomise(model, gen, head_gain):
    """Random weights with O(1) activations everywhere, so that every path matters and no two
    scores tie: He-normal convs/linears (residual branches scaled down so 16 blocks do not blow
    up), random FrozenBN statistics and GroupNorm affines, small box-delta layers."""
    sd = model.state_dict()
    out = {}
    for name, t in sd.items():
        shape = t.shape
        if name.endswith("running_var"):
            v = torch.rand(shape, generator=gen) * 1.5 + 0.5
        elif name.endswith("running_mean"):
            v = torch.randn(shape, generator=gen) * 0.1
        elif name.endswith("norm.weight") or (name.endswith(".weight") and t.dim() == 1):
            v = torch.rand(shape, generator=gen) + 0.5
        elif name.endswith("bias"):
            v = torch.randn(shape, generator=gen) * 0.1
        elif t.dim() >= 2:
            if "_lowres" in name:  # ConvTranspose2d [in, out, k, k]: fan-in is in * k * k / stride^2
                fan_in = shape[0] * shape[2] * shape[3] / 4 / head_gain**2  # logits of a few units
            else:
                fan_in = int(np.prod(shape[1:]))
            std = (2.0 / fan_in) ** 0.5
            if name.endswith("conv3.weight"):
                std *= 0.5
            if name.endswith("stem.conv1.weight"):  # pixels minus the mean are ~100, not ~1
                std *= 0.02
            if "anchor_deltas" in name or "bbox_pred" in name:  # boxes stay near their anchors
                std *= 0.004
            if "objectness_logits" in name or "cls_score" in name:  # FPN maps are ~20: logits of a few units
                std *= 0.05
            v = torch.randn(shape, generator=gen) * std
        else:
            v = t.clone()
        out[name] = v.to(t.dtype)
    return out


def run_case(name, zoo_yaml, proto, sizes):
    out_dir = os.path.join(DATA, "densepose", "parity", name)
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(100 + len(name))
    weights_path = os.path.join(out_dir, "model_final.pkl")
    skeleton = build_model(make_cfg(zoo_yaml, ""))
    # The V1ConvX head's maps are ~20; the DeepLab head's GroupNorm brings them to ~1.
    state = randomise(skeleton, gen, 0.05 if "DL" not in name else 1.0)
    with open(weights_path, "wb") as f:  # the zoo layout, read back by detectron2's own checkpointer below
        pickle.dump({"model": {k: v.numpy() for k, v in state.items()}, "__author__": "densepose parity fixture"},
                    f, protocol=proto)
    cfg = make_cfg(zoo_yaml, weights_path)
    predictor = DefaultPredictor(cfg)
    model = predictor.model
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in state), "checkpointer changed the weights"
    captured = {}
    model.backbone.register_forward_hook(lambda m, i, o: captured.update(features=o))
    model.proposal_generator.register_forward_hook(lambda m, i, o: captured.update(proposals=o[0][0]))

    src = Image.open(os.path.join(DATA, "cases", "public", "source.png")).convert("RGB")
    expected = {}
    for k, (w, h) in enumerate(sizes):
        rgb = np.array(src.resize((w, h), Image.BICUBIC))
        Image.fromarray(rgb).save(os.path.join(out_dir, f"frame{k}.png"))
        bgr = rgb[:, :, ::-1].copy()
        outputs = predictor(bgr)
        inst = outputs["instances"]
        p = f"f{k}."
        feats = captured["features"]
        for lvl in ("p2", "p3", "p4", "p5", "p6"):
            expected[p + lvl] = feats[lvl][0].numpy()
        props = captured["proposals"]
        expected[p + "proposals"] = props.proposal_boxes.tensor.numpy()
        expected[p + "objectness"] = props.objectness_logits.numpy()
        expected[p + "boxes"] = inst.pred_boxes.tensor.numpy()
        expected[p + "scores"] = inst.scores.numpy()
        expected[p + "classes"] = inst.pred_classes.numpy()
        dp = inst.pred_densepose
        for field in ("coarse_segm", "fine_segm", "u", "v"):
            expected[p + field] = getattr(dp, field).numpy()
        results, boxes_xywh = DensePoseResultExtractor()(inst)
        for i, r in enumerate(results):
            expected[p + f"labels{i}"] = r.labels.numpy().astype(np.int64)
            expected[p + f"uv{i}"] = r.uv.numpy()
        canvas = cv2.applyColorMap(np.zeros((h, w), np.uint8), cv2.COLORMAP_VIRIDIS)
        vis = DensePoseResultsFineSegmentationVisualizer(alpha=1, cmap=cv2.COLORMAP_VIRIDIS)
        rendered = vis.visualize(canvas, (results, boxes_xywh))
        expected[p + "render"] = rendered[:, :, ::-1].copy()  # RGB
        print(name, k, (w, h), "->", tuple(feats["p2"].shape), "boxes", len(inst), "scores",
              [round(float(s), 4) for s in inst.scores], "person px", int((rendered != np.array([84, 1, 68], np.uint8)).any(2).sum()), "of", w * h)
    st_write.save(os.path.join(out_dir, "expected.safetensors"), expected)
    conf = {"config": name, "min_size_test": cfg.INPUT.MIN_SIZE_TEST, "max_size_test": cfg.INPUT.MAX_SIZE_TEST,
            "densepose_pooler_resolution": cfg.MODEL.ROI_DENSEPOSE_HEAD.POOLER_RESOLUTION,
            "detections_per_image": cfg.TEST.DETECTIONS_PER_IMAGE,
            "score_thresh_test": cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST, "frames": len(sizes)}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(conf, f, indent=1)


if __name__ == "__main__":
    for case in CASES:
        run_case(*case)
