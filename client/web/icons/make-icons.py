#!/usr/bin/env python3
"""Writes the listener page's icons (icon.svg, icon-192.png, icon-512.png) into this folder:
five white bars of a sound level on the page's blue. Pure Python (zlib), no dependencies.
Run once by hand after changing the design; the outputs are committed."""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
BG = (0x0A, 0x3A, 0x6B)
FG = (0xFF, 0xFF, 0xFF)
# Bars as fractions of the icon: centre x, half width, half height (all centred vertically);
# they stay inside the central 60 % so the icon also works as a maskable icon.
BARS = [(0.30, 0.045, 0.12), (0.40, 0.045, 0.22), (0.50, 0.045, 0.30), (0.60, 0.045, 0.22), (0.70, 0.045, 0.12)]


def inside_bar(x, y):
    for cx, hw, hh in BARS:
        # A bar with round ends: a rectangle whose ends are half-discs of radius hw.
        dx = abs(x - cx)
        if dx > hw:
            continue
        dy = abs(y - 0.5) - (hh - hw)
        if dy <= 0 or dx * dx + dy * dy <= hw * hw:
            return True
    return False


def png(size, path, samples=4):
    rows = []
    for py in range(size):
        row = bytearray([0])
        for px in range(size):
            hits = 0
            for sy in range(samples):
                for sx in range(samples):
                    if inside_bar((px + (sx + 0.5) / samples) / size, (py + (sy + 0.5) / samples) / size):
                        hits += 1
            a = hits / (samples * samples)
            row += bytes(round(b + (f - b) * a) for b, f in zip(BG, FG))
        rows.append(bytes(row))

    def chunk(kind, data):
        body = kind + data
        return struct.pack('>I', len(data)) + body + struct.pack('>I', zlib.crc32(body) & 0xFFFFFFFF)

    ihdr = struct.pack('>IIBBBBB', size, size, 8, 2, 0, 0, 0)
    data = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b''.join(rows), 9)) + chunk(b'IEND', b'')
    with open(path, 'wb') as f:
        f.write(data)


def svg(path):
    bars = ''.join(
        f'<rect x="{(cx - hw) * 512:.0f}" y="{(0.5 - hh) * 512:.0f}" width="{2 * hw * 512:.0f}" '
        f'height="{2 * hh * 512:.0f}" rx="{hw * 512:.0f}"/>' for cx, hw, hh in BARS)
    text = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">'
            '<rect width="512" height="512" rx="96" fill="#0a3a6b"/>'
            f'<g fill="#fff">{bars}</g></svg>\n')
    with open(path, 'w') as f:
        f.write(text)


if __name__ == '__main__':
    svg(os.path.join(HERE, 'icon.svg'))
    png(192, os.path.join(HERE, 'icon-192.png'))
    png(512, os.path.join(HERE, 'icon-512.png'), samples=3)
