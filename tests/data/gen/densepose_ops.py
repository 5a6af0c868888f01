#!/usr/bin/env python3
"""ROIAlign / NMS reference outputs from torchvision.ops (Debian python3-torchvision 0.14.1,
CPU) -> tests/data/densepose/ops.safetensors. Cases cover what DensePose R-CNN hits: rois
partly or fully outside the map, tiny rois, aligned True/False, fixed and adaptive sampling,
and NMS with overlapping boxes in several categories (both of batched_nms's strategies)."""
import os, sys
import numpy as np
import torch
from torchvision.ops import roi_align, nms, batched_nms
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write

g = torch.Generator().manual_seed(15)
out = {}
feat = torch.randn(2, 3, 13, 17, generator=g)
rois = torch.tensor([
    [0, 1.3, 2.2, 9.7, 11.1],
    [1, -5.0, -3.0, 4.0, 6.0],      # partly outside (top-left)
    [0, 10.0, 5.0, 40.0, 30.0],     # partly outside (bottom-right)
    [1, 3.2, 3.9, 3.4, 4.0],        # tiny: widened to 1x1 unless aligned
    [0, -30.0, -30.0, -20.0, -20.0],  # fully outside: zeros
    [1, 0.0, 0.0, 16.9, 12.9],
])
rois_img = rois.clone()
rois_img[:, 1:] *= 4.0  # image coordinates for spatial_scale 1/4
out["feat"] = feat.numpy()
out["rois"] = rois_img.numpy()
for aligned in (False, True):
    for sr in (2, 0):
        r = roi_align(feat, rois_img, (7, 5), spatial_scale=0.25, sampling_ratio=sr, aligned=aligned)
        out[f"roi_align.aligned{int(aligned)}.sr{sr}"] = r.numpy()

# NMS: clustered boxes so that suppression actually happens.
centers = torch.rand(12, 2, generator=g) * 60
n = 300
idx = torch.randint(0, 12, (n,), generator=g)
wh = torch.rand(n, 2, generator=g) * 20 + 5
xy = centers[idx] + torch.randn(n, 2, generator=g) * 4
boxes = torch.cat([xy - wh / 2, xy + wh / 2], 1)
scores = torch.rand(n, generator=g)
cats = torch.randint(0, 3, (n,), generator=g)
out["nms.boxes"] = boxes.numpy()
out["nms.scores"] = scores.numpy()
out["nms.cats"] = cats.numpy()
for t in (0.3, 0.5, 0.7):
    out[f"nms.keep{int(t * 10)}"] = nms(boxes, scores, t).numpy()
    out[f"batched_nms.keep{int(t * 10)}"] = batched_nms(boxes, scores, cats, t).numpy()  # coordinate trick (<=1000 boxes)
# > 1000 boxes: torchvision loops over categories instead.
big = boxes.repeat(5, 1) + torch.randn(5 * n, 4, generator=g) * 0.5
big[:, 2:] = torch.maximum(big[:, 2:], big[:, :2] + 1)
big_scores = torch.rand(5 * n, generator=g)
big_cats = torch.randint(0, 3, (5 * n,), generator=g)
out["big.boxes"], out["big.scores"], out["big.cats"] = big.numpy(), big_scores.numpy(), big_cats.numpy()
out["big.keep5"] = batched_nms(big, big_scores, big_cats, 0.5).numpy()
# detectron2's ResizeShortestEdge resizes uint8 frames with PIL BILINEAR: down (real videos to 800)
# and up (small frames), both axes or one.
from PIL import Image
img = (torch.rand(37, 50, 3, generator=g) * 255).to(torch.uint8).numpy()
out["pil.src"] = img
for w, h in ((23, 17), (80, 61), (50, 20), (13, 37)):
    out[f"pil.bilinear.{w}x{h}"] = np.array(Image.fromarray(img).resize((w, h), Image.BILINEAR))
dst = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "densepose", "ops.safetensors")
st_write.save(dst, out)
print("wrote", dst, {k: v.shape for k, v in out.items()})
