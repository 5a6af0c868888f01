#!/usr/bin/env python3
"""Writes a tiny training dataset in the TikTok layout, standard library only:
OUT/<clip>/images/NNNN.bmp (a coloured square moving over a gradient) and
OUT/<clip>/densepose/NNNN.bmp (the same square coloured by its own coordinates
on DensePose's purple background). Enough to try `magicanimate train` end to
end with the tiny models in tests/data/models; it teaches nothing real.

usage: scripts/make_tiny_dataset.py OUT [--clips 2] [--frames 8] [--size 64]
"""
import argparse
import os
import struct


def bmp(path, w, h, pixel):
    row_pad = (4 - (w * 3) % 4) % 4
    rows = []
    for y in range(h - 1, -1, -1):  # BMP rows run bottom-up
        row = bytearray()
        for x in range(w):
            r, g, b = pixel(x, y)
            row += bytes((b, g, r))
        rows.append(bytes(row) + b"\0" * row_pad)
    data = b"".join(rows)
    header = struct.pack("<2sIHHI", b"BM", 54 + len(data), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(data), 2835, 2835, 0, 0)
    with open(path, "wb") as f:
        f.write(header + info + data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    a = ap.parse_args()
    n = a.size
    side = max(4, n // 3)
    for c in range(a.clips):
        images = os.path.join(a.out, "clip%02d" % c, "images")
        poses = os.path.join(a.out, "clip%02d" % c, "densepose")
        os.makedirs(images, exist_ok=True)
        os.makedirs(poses, exist_ok=True)
        for i in range(a.frames):
            x0 = (c * 7 + i * 3) % (n - side)
            y0 = (c * 5 + i * 2) % (n - side)
            inside = lambda x, y: x0 <= x < x0 + side and y0 <= y < y0 + side
            name = "%04d.bmp" % i
            bmp(os.path.join(images, name), n, n,
                lambda x, y: (210, 40, 60) if inside(x, y) else (x * 255 // n, y * 255 // n, 128))
            bmp(os.path.join(poses, name), n, n,
                lambda x, y: (64 + 3 * (x - x0), 64 + 3 * (y - y0), 200) if inside(x, y) else (68, 1, 84))
    print("wrote %d clips of %d frames (%dx%d) to %s" % (a.clips, a.frames, n, n, a.out))


if __name__ == "__main__":
    main()
