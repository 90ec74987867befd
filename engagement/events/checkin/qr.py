"""QR codes of ticket links: inline SVG for pages, PNG and SVG files for mails and print."""
from __future__ import annotations

import io

import segno


def qr_code(url: str) -> segno.QRCode:
    """The QR code of a URL."""
    # Error level M survives a scuffed phone screen or a creased print-out.
    return segno.make(url, error="m", micro=False)


def qr_svg(url: str) -> str:
    """Inline SVG (no XML declaration) for a page."""
    return qr_code(url).svg_inline(scale=5, border=4, title="QR")


def qr_png(url: str) -> bytes:
    """A PNG for mail clients."""
    out = io.BytesIO()
    qr_code(url).save(out, kind="png", scale=6, border=4)
    return out.getvalue()


def qr_svg_file(url: str) -> bytes:
    """An SVG file to print."""
    out = io.BytesIO()
    qr_code(url).save(out, kind="svg", scale=6, border=4)
    return out.getvalue()
