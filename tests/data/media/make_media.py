# Regenerates the still-image fixtures in this folder with Pillow (made with
# Debian 12's python3-pil 9.4.0 / libjpeg-turbo 2.1.5 / libwebp 1.2.4).
# Each input has a "<name>.pillow.png" holding
# np.array(Image.open(input).convert("RGB")): Pillow's decode, stored
# losslessly, the reference our decoders are compared against.
import numpy as np
from PIL import Image

H, W = 37, 53  # odd on purpose: chroma subsampling edge cases
yy, xx = np.mgrid[0:H, 0:W]
rgb = np.stack([(xx * 5) % 256, (yy * 7) % 256, ((xx + yy) * 3) % 256], -1).astype(np.uint8)
rgb[10:20, 10:30] = np.random.default_rng(0).integers(0, 256, (10, 20, 3))  # sharp chroma
alpha = ((xx * 11 + yy * 3) % 256).astype(np.uint8)
base = Image.fromarray(rgb)
base.save("pattern.png")

inputs = {
    "q420.jpg": (base, dict(quality=85)),
    "q422.jpg": (base, dict(quality=90, subsampling=1)),
    "q444.jpg": (base, dict(quality=90, subsampling=0)),
    "progressive.jpg": (base, dict(quality=80, progressive=True)),
    "gray.jpg": (base.convert("L"), {}),
    "lossy.webp": (base, dict(quality=80)),
    "lossy_alpha.webp": (Image.fromarray(np.dstack([rgb, alpha])), dict(quality=80)),
    "lossless.webp": (base, dict(lossless=True)),
    "palette.gif": (base.quantize(50), {}),
    "rgb.bmp": (base, {}),
}
for name, (im, kw) in inputs.items():
    im.save(name, **kw)
    Image.fromarray(np.array(Image.open(name).convert("RGB"))).save(name + ".pillow.png")

# Image.resize((w, h)) with Pillow's default filter, odd sizes both ways.
for w, h in [(20, 50), (101, 13), (7, 37)]:
    base.resize((w, h)).save(f"pattern.resized_{w}x{h}.png")
