#!/usr/bin/env python3
"""Key/shape manifests of the four DensePose zoo configs, from detectron2's own module code:
build_model(cfg) of each projects/DensePose config (full size), state_dict names and shapes ->
tests/data/manifests/densepose_<config>.json. Same environment as densepose_parity.py."""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import densepose_parity as dp  # sets up the path and stubs
from detectron2.config import get_cfg
from detectron2.modeling import build_model
from densepose import add_densepose_config

out_dir = os.path.join(dp.DATA, "manifests")
for name in ("R_50_FPN_s1x", "R_50_FPN_DL_s1x", "R_101_FPN_s1x", "R_101_FPN_DL_s1x"):
    cfg = get_cfg()
    add_densepose_config(cfg)
    cfg.merge_from_file(os.path.join(dp.CONFIGS, f"densepose_rcnn_{name}.yaml"))
    cfg.MODEL.DEVICE = "cpu"
    sd = build_model(cfg).state_dict()
    keys = {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)} for k, v in sd.items()}
    with open(os.path.join(out_dir, f"densepose_{name}.json"), "w") as f:
        json.dump({"keys": keys}, f, indent=1, sort_keys=True)
    print(name, len(keys), "tensors", sum(v.numel() for v in sd.values()) / 1e6, "M")
