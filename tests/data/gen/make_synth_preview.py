#!/usr/bin/python3
"""Makes docs/synth-preview.png from a `magicanimate synth` dataset: one row per clip,
four pictures then their four DensePose frames.

  build/magicanimate synth --out /tmp/synth-preview --clips 10 --frames 24 --size 128 --seed 3
  /usr/bin/python3 tests/data/gen/make_synth_preview.py /tmp/synth-preview docs/synth-preview.png 0 3 5 7
"""
import sys

from PIL import Image

root, out, clips = sys.argv[1], sys.argv[2], [int(c) for c in sys.argv[3:]]
frames = [0, 7, 15, 23]
tiles = []
for c in clips:
    row = [Image.open(f"{root}/clip_{c:04d}/images/{f:04d}.png").convert("RGB") for f in frames]
    row += [Image.open(f"{root}/clip_{c:04d}/densepose/{f:04d}.png").convert("RGB") for f in frames]
    tiles.append(row)
w, h = tiles[0][0].size
gap = 4
sheet = Image.new("RGB", (w * 8 + gap, h * len(tiles)), (255, 255, 255))
for r, row in enumerate(tiles):
    for k, im in enumerate(row):
        sheet.paste(im, (k * w + (gap if k >= 4 else 0), r * h))
sheet.save(out, optimize=True)
print("wrote", out, sheet.size)
