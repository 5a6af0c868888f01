#!/usr/bin/env python3
"""Makes the frames and golden values of tests/unit/eval_metrics_test.cpp.

The metrics are computed exactly as DisCo's tool/metrics/ssim_l1_lpips_psnr.py
(commit ef1e88e, the code MagicAnimate's table came from) computes them, with
the Debian packages python3-opencv, python3-skimage and python3-numpy:
cv2.imread (BGR uint8), cv2.resize when the shapes differ, L1 = mean of
|a - b| / (H*W), PSNR on uint8 without a cast ("disco") and with float64
("fixed", DisCo 6190108), SSIM = skimage structural_similarity on
cv2.cvtColor(BGR2GRAY). The masked variants are this project's definitions
(the same expressions restricted to mask pixels), computed here with numpy.

Run from the repository root: python3 tests/data/gen/make_eval_goldens.py
Output: tests/data/eval/{pred,gt,mask,resize,prepare}/*.png and goldens.json
(the prepare/ part also needs python3-torchvision and python3-pil).
"""
import json
import os

import cv2
import numpy as np
import skimage
from skimage.metrics import structural_similarity

OUT = os.path.join("tests", "data", "eval")
rng = np.random.RandomState(20240413)
H, W = 36, 40


def smooth_image(h, w):
    """A blurred random field plus texture: SSIM lands mid-range, not at 0 or 1."""
    base = rng.rand(h // 4 + 2, w // 4 + 2, 3) * 255
    base = cv2.resize(base.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    tex = rng.randn(h, w, 3) * 12
    return np.clip(base + tex, 0, 255).astype(np.uint8)


def write(path, bgr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, bgr)


def disco_psnr(a, b):
    mse = np.mean((a - b) ** 2)  # uint8: wraps, as in DisCo ef1e88e
    return 100.0 if mse == 0 else 20 * np.log10(255.0 / np.sqrt(mse))


def fixed_psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 100.0 if mse == 0 else 20 * np.log10(255.0 / np.sqrt(mse))


def l1(a, b):
    err = np.absolute(a.astype("float") - b.astype("float"))
    err /= float(a.shape[0] * a.shape[1])
    return float(np.mean(err))


def gray(bgr):
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def masked(a, b, m):
    """L1, both PSNRs and SSIM over the pixels where m (bool [H, W]) is set."""
    hw = a.shape[0] * a.shape[1]
    da = a.astype(np.float64)[m]
    db = b.astype(np.float64)[m]
    wrapped = ((a - b) ** 2)[m]
    out = {"l1": float(np.mean(np.abs(da - db)) / hw)}
    for key, mse in (("psnr_disco", np.mean(wrapped)), ("psnr_fixed", np.mean((da - db) ** 2))):
        out[key] = 100.0 if mse == 0 else float(20 * np.log10(255.0 / np.sqrt(mse)))
    _, smap = structural_similarity(gray(a), gray(b), full=True)
    inner = np.zeros_like(m)
    inner[3:-3, 3:-3] = True
    out["ssim"] = float(np.mean(smap[m & inner]))
    return out


def main():
    goldens = {"versions": {"opencv": cv2.__version__, "skimage": skimage.__version__, "numpy": np.__version__},
               "frames": []}
    for i in range(4):
        gt = smooth_image(H, W)
        if i == 0:
            pred = np.clip(gt.astype(int) + rng.randint(-20, 21, gt.shape), 0, 255).astype(np.uint8)
        elif i == 1:  # large differences: the uint8 wrap-around changes PSNR a lot
            pred = smooth_image(H, W)
        elif i == 2:
            pred = gt.copy()  # identical: PSNR 100, SSIM 1, L1 0
        else:  # saturated regions exercise the constant-window SSIM path
            pred = gt.copy()
            pred[:12] = 255
            pred[20:, :10] = 0
        name = "f%03d" % i
        write(os.path.join(OUT, "pred", name + ".png"), pred)
        write(os.path.join(OUT, "gt", name + ".png"), gt)
        mask = np.zeros((H, W), np.uint8)
        mask[5 + i:30, 8:33 - i] = 255
        write(os.path.join(OUT, "mask", name + ".png"), cv2.merge([mask, mask, mask]))
        a = cv2.imread(os.path.join(OUT, "pred", name + ".png"))
        b = cv2.imread(os.path.join(OUT, "gt", name + ".png"))
        score, _ = structural_similarity(gray(a), gray(b), full=True)
        goldens["frames"].append({
            "name": name,
            "l1": l1(a, b),
            "psnr_disco": float(disco_psnr(a, b)),
            "psnr_fixed": float(fixed_psnr(a, b)),
            "ssim": float(score),
            "gray_sum_pred": int(gray(a).astype(np.int64).sum()),
            "masked": masked(a, b, mask > 127),
        })
    # cv2.resize(img, (W, H)) as DisCo applies it to predictions of another size:
    # an exact 2x reduction (OpenCV's area shortcut), a non-integer reduction, an
    # enlargement, and a width whose rows do not fill whole SIMD vectors.
    goldens["resize"] = []
    for sw, sh, dw, dh in ((80, 72, 40, 36), (53, 47, 40, 36), (23, 19, 40, 36), (61, 50, 37, 29)):
        src = smooth_image(sh, sw)
        name = "src_%dx%d_to_%dx%d" % (sw, sh, dw, dh)
        write(os.path.join(OUT, "resize", name + ".png"), src)
        out = cv2.resize(src, (dw, dh))
        write(os.path.join(OUT, "resize", name + ".expected.png"), out)
        goldens["resize"].append({"source": name + ".png", "expected": name + ".expected.png", "width": dw,
                                  "height": dh})
    # Ground truth as DisCo's val split makes it: torchvision RandomResizedCrop(
    # size, scale=(1, 1), ratio=(1, 1), BILINEAR) on the PIL frame (a centre
    # square crop, Pillow's antialiased bilinear), saved as PNG. Size 32 here.
    import torchvision.transforms as T
    from PIL import Image
    crop = T.RandomResizedCrop(32, scale=(1, 1), ratio=(1, 1), interpolation=T.InterpolationMode.BILINEAR)
    prep = np.random.RandomState(7)
    goldens["prepare"] = []
    for w, h in ((50, 70), (71, 45), (40, 40)):
        img = Image.fromarray(prep.randint(0, 256, (h, w, 3)).astype(np.uint8))
        name = "tiktok_%dx%d" % (w, h)
        os.makedirs(os.path.join(OUT, "prepare"), exist_ok=True)
        img.save(os.path.join(OUT, "prepare", name + ".png"))
        crop(img).save(os.path.join(OUT, "prepare", name + ".expected.png"))
        goldens["prepare"].append({"source": name + ".png", "expected": name + ".expected.png", "size": 32})
    # The whole-folder means DisCo prints (np.mean over frames).
    goldens["mean"] = {k: float(np.mean([f[k] for f in goldens["frames"]]))
                       for k in ("l1", "psnr_disco", "psnr_fixed", "ssim")}
    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        json.dump(goldens, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
