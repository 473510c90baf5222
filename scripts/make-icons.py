#!/usr/bin/env python3
"""Draws Fin-R1 Desktop's icon set (no dependencies beyond the standard library): a deep-blue
rounded tile with three rising bars and a gold trend line through them, a reasoning "spark" at
its end. Writes src-tauri/icons/{32x32,64x64,128x128,256x256,icon}.png (32-512 px); the macOS and
Windows icons (icon.icns, icon.ico) are made from icon.png by `cargo tauri icon`
(scripts/build-deb.sh does it when they are missing)."""
import math, struct, sys, zlib
from pathlib import Path

SS = 4  # supersampling for smooth edges

def blend(dst, src, a):
    return tuple(d * (1 - a) + s * a for d, s in zip(dst, src))

def inside_round_rect(x, y, x0, y0, x1, y1, r):
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r

def seg_dist(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))

def shade(u, v):
    """Colour and alpha at unit coordinates (0..1)."""
    if not inside_round_rect(u, v, 0.04, 0.04, 0.96, 0.96, 0.2):
        return (0, 0, 0), 0.0
    top, bottom = (23, 59, 110), (9, 26, 54)
    c = blend(top, bottom, v)
    bars = [(0.22, 0.62), (0.42, 0.50), (0.62, 0.36)]
    for x, y in bars:
        if x <= u <= x + 0.13 and y <= v <= 0.80:
            c = blend(c, (64, 170, 190), 0.9)
    line = [(0.16, 0.66), (0.36, 0.54), (0.56, 0.44), (0.80, 0.24)]
    d = min(seg_dist(u, v, *line[i], *line[i + 1]) for i in range(len(line) - 1))
    if d < 0.035:
        c = blend(c, (240, 190, 80), 1.0)
    sx, sy = 0.80, 0.24
    r = math.hypot(u - sx, v - sy)
    if r < 0.075:
        c = blend(c, (255, 225, 140), 1.0)
    return c, 1.0

def render(size):
    rows = []
    for j in range(size):
        row = bytearray([0])
        for i in range(size):
            acc = [0.0, 0.0, 0.0]
            alpha = 0.0
            for sj in range(SS):
                for si in range(SS):
                    u = (i + (si + 0.5) / SS) / size
                    v = (j + (sj + 0.5) / SS) / size
                    c, a = shade(u, v)
                    for k in range(3):
                        acc[k] += c[k] * a
                    alpha += a
            n = SS * SS
            if alpha > 0:
                row += bytes(int(round(acc[k] / alpha)) for k in range(3))
            else:
                row += b"\0\0\0"
            row.append(int(round(255 * alpha / n)))
        rows.append(bytes(row))
    raw = b"".join(rows)
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")

def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "src-tauri" / "icons")
    out.mkdir(parents=True, exist_ok=True)
    for name, size in [("32x32.png", 32), ("64x64.png", 64), ("128x128.png", 128), ("256x256.png", 256), ("icon.png", 512)]:
        (out / name).write_bytes(render(size))
        print(out / name)

if __name__ == "__main__":
    main()
