#!/usr/bin/env python3
"""Makes the README's still strip of the demo model: source | pose | result frames.

Each ROW is SOURCE,POSE,RESULT: the reference image, the motion (a folder of
numbered frames, or a video: needs python3-opencv) and the folder of result
frames `animate --frames-out` wrote. Per row: the source, then the chosen frames
as pose-over-result pairs. Pixels are scaled up by --scale with nearest
neighbour, so what is shown is what the model made.

Needs Debian's python3-pil (and python3-opencv for a video POSE); docs only,
the build and the tests do not use it.

  docs/make_demo_strip.py --row out/demo_inputs/clip_0000/images/0000.png,out/demo_inputs/clip_0001/densepose,out/demo_frames \
      --row ...,samples/running.mp4,out/demo_running_frames --frames 0,8,16,24,32,40 --out docs/demo-strip.png
"""
import argparse
import os
import sys

from PIL import Image


def pose_frames(path, wanted):
    if os.path.isdir(path):
        names = sorted(f for f in os.listdir(path) if f.lower().endswith((".png", ".jpg", ".jpeg")))
        return [Image.open(os.path.join(path, names[i])).convert("RGB") for i in wanted]
    import cv2  # a video: decode the frames asked for

    cap = cv2.VideoCapture(path)
    frames, i = {}, 0
    while len(frames) < len(wanted):
        ok, bgr = cap.read()
        if not ok:
            sys.exit(f"make_demo_strip: {path} has no frame {i}")
        if i in wanted:
            frames[i] = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        i += 1
    return [frames[i] for i in wanted]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--row", action="append", required=True, help="SOURCE,POSE,RESULT")
    ap.add_argument("--frames", default="0,8,16,24,32,40", help="frame indices shown")
    ap.add_argument("--scale", type=int, default=3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    wanted = [int(x) for x in a.frames.split(",")]
    rows = []
    for spec in a.row:
        source, pose, result = spec.split(",")
        names = sorted(os.listdir(result))
        res = [Image.open(os.path.join(result, names[i])).convert("RGB") for i in wanted]
        size = res[0].size
        poses = [p.resize(size, Image.NEAREST) for p in pose_frames(pose, wanted)]
        rows.append((Image.open(source).convert("RGB").resize(size, Image.BILINEAR), poses, res))
    w, h = rows[0][2][0].size
    gap = 4
    cols = 1 + len(wanted)
    strip = Image.new("RGB", (cols * w + (cols - 1) * gap + gap, len(rows) * (2 * h + gap) - gap), "white")
    for r, (source, poses, res) in enumerate(rows):
        y = r * (2 * h + gap)
        strip.paste(source, (0, y + h // 2))
        for k in range(len(wanted)):
            x = (k + 1) * (w + gap) + gap
            strip.paste(poses[k], (x, y))
            strip.paste(res[k], (x, y + h))
    strip = strip.resize((strip.width * a.scale, strip.height * a.scale), Image.NEAREST)
    strip.save(a.out, optimize=True)
    print(f"make_demo_strip: wrote {a.out} ({strip.width}x{strip.height})")


if __name__ == "__main__":
    main()
