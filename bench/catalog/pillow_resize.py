#!/usr/bin/env python3
"""The peer of marquee-artwork's resize_dir example: every picture of DIR
into a poster's renditions (card 342x513, detail 780x1170, share 1200x630),
cover-cropped, never enlarged, JPEG quality 82, one thread, with Pillow.
The share rendition of a portrait poster is the poster set on a blurred,
darkened copy of itself, as Marquee makes it.

    python3 bench/catalog/pillow_resize.py DIR
"""
import os
import sys
import time

from PIL import Image, ImageFilter, ImageEnhance

SIZES = {"card": (342, 513), "detail": (780, 1170), "share": (1200, 630)}


def cover(img, w, h):
    sw, sh = img.size
    scale = max(w / sw, h / sh)
    if scale > 1:  # never enlarge: crop to the aspect ratio only
        cw, ch = (sw, round(sw * h / w)) if sw / sh > w / h else (round(sh * w / h), sh)
        cw, ch = min(cw, sw), min(ch, sh)
        left, top = (sw - cw) // 2, (sh - ch) // 2
        return img.crop((left, top, left + cw, top + ch))
    cw, ch = round(w / scale), round(h / scale)
    left, top = (sw - cw) // 2, (sh - ch) // 2
    return img.resize((w, h), Image.BICUBIC, box=(left, top, left + cw, top + ch), reducing_gap=2.0)


def render(img, w, h):
    sw, sh = img.size
    kept = min((sw / sh) / (w / h), (w / h) / (sw / sh))
    if kept >= 0.5:
        return cover(img, w, h)
    bg = cover(img, w, h).filter(ImageFilter.GaussianBlur(12))
    bg = ImageEnhance.Brightness(bg).enhance(0.45)
    scale = min(w / sw, h / sh, 1.0)
    fg = img.resize((round(sw * scale), round(sh * scale)), Image.BICUBIC, reducing_gap=2.0)
    bg.paste(fg, ((w - fg.width) // 2, (h - fg.height) // 2))
    return bg


def main():
    d = sys.argv[1]
    files = sorted(os.path.join(d, f) for f in os.listdir(d))
    t = time.perf_counter()
    out = 0
    for f in files:
        img = Image.open(f).convert("RGB")
        for w, h in SIZES.values():
            import io
            buf = io.BytesIO()
            render(img, w, h).save(buf, "JPEG", quality=82)
            out += buf.tell()
    s = time.perf_counter() - t
    print(f"pillow {len(files)} pictures {s:.3f} s {len(files) / s:.2f} pictures/s {out} bytes out")


if __name__ == "__main__":
    main()
