#!/usr/bin/env python3
"""png_compare.py A.png B.png MIN_EQUAL_FRACTION MAX_DIFF — compares the pixel
bytes of two 8-bit RGB/RGBA PNGs (standard library only: zlib + the five
scanline filters). Prints "N/M bytes identical, max diff D"; exit 0 when
the sizes agree, the identical fraction is >= MIN_EQUAL_FRACTION and no byte
differs by more than MAX_DIFF."""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, color = struct.unpack(">IIBB", body[:10])
            if depth != 8 or color not in (2, 6) or body[12] != 0:
                raise SystemExit(f"{path}: only 8-bit RGB/RGBA, non-interlaced")
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride = zlib.decompress(idat), w * bpp
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        out += line
        prev = line
    return w, h, bytes(out)


wa, ha, a = decode(sys.argv[1])
wb, hb, b = decode(sys.argv[2])
if (wa, ha) != (wb, hb) or len(a) != len(b):
    raise SystemExit(f"sizes differ: {wa}x{ha} vs {wb}x{hb}")
equal = sum(1 for x, y in zip(a, b) if x == y)
maxd = max((abs(x - y) for x, y in zip(a, b)), default=0)
print(f"{equal}/{len(a)} bytes identical, max diff {maxd}")
sys.exit(0 if equal >= float(sys.argv[3]) * len(a) and maxd <= int(sys.argv[4]) else 1)
