"""Draw docs/plots/decay_curve.png: strength over time per tier and importance.

The curves come from the code (``DecayPolicy().strength_at``), so the picture is the
formula of docs/memories.md as implemented. Pure Python and numpy (no plotting library is
a dependency): a small bitmap font and a PNG writer are below.

    python docs/plots/decay_curve.py        # rewrites docs/plots/decay_curve.png
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from hivemem.memories.decay import DAY, DecayPolicy

W, H = 900, 520
LEFT, RIGHT, TOP, BOTTOM = 70, 250, 40, 60
DAYS = 60
TIER_COLOURS = {"short": (214, 39, 40), "medium": (31, 119, 180), "long": (44, 160, 44)}
#: importance -> dash pattern (on, off) in pixels along x; (1, 0) is solid.
IMPORTANCE_DASH = {0.0: (3, 4), 0.5: (1, 0), 1.0: (10, 5)}
THRESHOLD = 0.05

# 3x5 glyphs, rows top to bottom, "1" = ink.
FONT = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001001001", "8": "111101111101111",
    "9": "111101111001111", ".": "000000000000010", " ": "000000000000000",
    "=": "000111000111000", "*": "000101010101000", "+": "000010111010000",
    "/": "001001010100100", "(": "010100100100010", ")": "010001001001010",
    ",": "000000000010100", ":": "000010000010000", "-": "000000111000000",
    "a": "000011101101111", "b": "100100111101111", "c": "000111100100111",
    "d": "001001111101111", "e": "111101111100111", "f": "011100110100100",
    "g": "111101111001111", "h": "100100111101101", "i": "010000010010010",
    "k": "100101110101101", "l": "110010010010111", "m": "000111111101101",
    "n": "000110101101101", "o": "000111101101111", "p": "111101111100100",
    "r": "000111100100100", "s": "111100111001111", "t": "010111010010011",
    "u": "000101101101111", "w": "000101101111111", "x": "000101010101101",
    "y": "101101111001111", "v": "000101101101010",
}  # fmt: skip


def text(img: np.ndarray, x: int, y: int, s: str, scale: int = 2, colour=(0, 0, 0)) -> None:
    """Draw ``s`` with its top-left corner at (x, y)."""
    for ch in s:
        glyph = FONT.get(ch, FONT[" "])
        for i, bit in enumerate(glyph):
            if bit == "1":
                r, c = divmod(i, 3)
                img[y + r * scale : y + (r + 1) * scale, x + c * scale : x + (c + 1) * scale] = (
                    colour
                )
        x += 4 * scale


def px(day: float, strength: float) -> tuple[float, float]:
    """Pixel coordinates of a point of the plot."""
    return (
        LEFT + day / DAYS * (W - LEFT - RIGHT),
        TOP + (1 - strength) * (H - TOP - BOTTOM),
    )


def draw() -> np.ndarray:
    """The picture as an RGB array."""
    img = np.full((H, W, 3), 255, dtype=np.uint8)
    x0, y1 = px(0, 0)
    x1, y0 = px(DAYS, 1)
    for d in range(0, DAYS + 1, 10):  # grid and x labels
        x = round(px(d, 0)[0])
        img[round(y0) : round(y1), x] = (225, 225, 225)
        text(img, x - 4 * len(str(d)), round(y1) + 8, str(d))
    for s in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = round(px(0, s)[1])
        img[y, round(x0) : round(x1)] = (225, 225, 225)
        text(img, 18, y - 5, f"{s:.2f}")
    img[round(y0) : round(y1) + 1, round(x0)] = 0
    img[round(y1), round(x0) : round(x1) + 1] = 0
    text(img, (LEFT + W - RIGHT) // 2 - 80, H - 25, "days since last access")
    text(img, LEFT, 12, "strength = 2 ** (-t / (half-life x stability x (0.5 + importance)))")
    ty = round(px(0, THRESHOLD)[1])
    img[ty, round(x0) : round(x1) : 2] = (120, 120, 120)
    text(img, round(px(12, 0)[0]), ty + 6, "0.05 (an example policy)", colour=(90, 90, 90))
    policy = DecayPolicy()
    xs = np.linspace(0, DAYS, (W - LEFT - RIGHT) * 4)
    for tier, colour in TIER_COLOURS.items():
        for importance, (on, off) in IMPORTANCE_DASH.items():
            record = {"tier": tier, "importance": importance, "strength": 1.0, "decayed_at": 0.0}
            for x in xs:
                s = policy.strength_at(record, x * DAY)
                cx, cy = px(x, s)
                if off and int(cx - LEFT) % (on + off) >= on:
                    continue
                r, c = round(cy), round(cx)
                img[r - 1 : r + 1, c - 1 : c + 1] = colour
    ly = TOP + 10
    for tier, colour in TIER_COLOURS.items():  # legend
        for importance, (on, off) in IMPORTANCE_DASH.items():
            for dx in range(40):
                if not off or dx % (on + off) < on:
                    img[ly + 4 : ly + 6, W - RIGHT + 20 + dx] = colour
            text(img, W - RIGHT + 70, ly, f"{tier}, importance {importance:g}")
            ly += 22
        ly += 10
    return img


def png(img: np.ndarray) -> bytes:
    """``img`` (H x W x 3, uint8) as a PNG file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    height, width, _ = img.shape
    raw = b"".join(b"\x00" + img[row].tobytes() for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    out = Path(__file__).with_suffix(".png")
    out.write_bytes(png(draw()))
    print(out)
