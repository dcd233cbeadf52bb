#!/usr/bin/env python
"""Take the README's dashboard screenshot: the top of a symbol page, in headless Chromium, as a
small palette PNG.

Usage::

    gridregime demo --out gridregime-demo        # builds gridregime-demo/dashboard too
    python tools/dashboard_screenshot.py gridregime-demo/dashboard/symbols/ETH-USDT.html docs/dashboard.png
"""
from __future__ import annotations

import argparse
import io
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("page", help="a symbol page of a built dashboard")
    ap.add_argument("out", help="PNG to write")
    ap.add_argument("--width", type=int, default=1280, help="viewport width in CSS pixels (default 1280)")
    ap.add_argument("--height", type=int, default=1250, help="height of the captured top (default 1250)")
    ap.add_argument("--scale-to", type=int, default=960, help="width of the written image (default 960)")
    args = ap.parse_args(argv)

    from PIL import Image

    from gridregime.dashboard.browser import HeadlessChromium

    with HeadlessChromium(width=args.width, height=args.height + 50) as browser:
        load = browser.load(args.page)
        if load.errors:
            print("\n".join(load.errors), file=sys.stderr)
            return 1
        png = browser.screenshot(full_page=False, clip={"x": 0, "y": 0, "width": args.width, "height": args.height})
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image = image.resize((args.scale_to, round(image.size[1] * args.scale_to / image.size[0])), Image.LANCZOS)
    # 256 colours without dithering: the verdict colours stay exact and the file stays small
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(args.out, optimize=True)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
