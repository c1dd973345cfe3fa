"""Screenshot checks: every refused kind of upload, EXIF orientation, formats decided by content."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from agent.errors import ImageError
from agent.screenshot import check_screenshot, downscale_for_ocr, read_screenshot
from agent.settings import AgentConfig

LIMITS = {"max_bytes": 10_000_000, "max_pixels": 40_000_000}


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height, with a tiny (wrong) body: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("fmt", "mode"), [("PNG", "RGBA"), ("JPEG", "RGB"), ("WEBP", "RGB"), ("GIF", "P"), ("BMP", "RGB")]
)
def test_accepted_formats_are_normalised_to_rgb_png(fmt: str, mode: str) -> None:
    image = Image.new(mode, (64, 40), color=1 if mode == "P" else None)
    checked = check_screenshot(_encode(image, fmt), **LIMITS)
    assert checked.source_format == fmt
    assert checked.image.mode == "RGB"
    assert (checked.width, checked.height) == (64, 40)
    assert Image.open(io.BytesIO(checked.png)).format == "PNG"


def test_format_comes_from_content_not_name() -> None:
    # A JPEG is a JPEG whatever the upload called it; bytes carry no file name at all.
    checked = check_screenshot(_encode(Image.new("RGB", (20, 10)), "JPEG"), **LIMITS)
    assert checked.source_format == "JPEG"


def test_animated_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (30, 30), color) for color in ((255, 0, 0), (0, 0, 255))]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    checked = check_screenshot(data, **LIMITS)
    red, green, blue = checked.image.getpixel((15, 15))
    assert red > 200 and blue < 50


def test_transparent_png_becomes_white_not_black() -> None:
    checked = check_screenshot(_encode(Image.new("RGBA", (10, 10), (0, 0, 0, 0)), "PNG"), **LIMITS)
    assert checked.image.getpixel((5, 5)) == (255, 255, 255)


def test_exif_orientation_is_applied() -> None:
    # Stored landscape 40x20 with orientation 6 ("rotate 90 CW to display"): shown portrait 20x40.
    image = Image.new("RGB", (40, 20), (255, 255, 255))
    image.paste((255, 0, 0), (0, 0, 10, 20))  # red stripe on the stored image's left edge
    exif = Image.Exif()
    exif[0x0112] = 6
    checked = check_screenshot(_encode(image, "JPEG", exif=exif.tobytes(), quality=95), **LIMITS)
    assert (checked.width, checked.height) == (20, 40)
    red, green, _ = checked.image.getpixel((10, 3))  # the left edge is now the top
    assert red > 200 and green < 60


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"Hello, this is my problem in plain text.\n", "not a picture"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nendobj\n", "PDF"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><text>hi</text></svg>', "SVG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20, "not a picture"),
    ],
    ids=["empty", "text", "pdf", "svg-xml", "svg", "corrupt-png"],
)
def test_non_images_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        check_screenshot(data, **LIMITS)


def test_other_image_formats_are_refused() -> None:
    with pytest.raises(ImageError, match="PNG, JPEG, WebP, GIF or BMP"):
        check_screenshot(_encode(Image.new("RGB", (10, 10)), "TIFF"), **LIMITS)


def test_truncated_upload_is_refused() -> None:
    noisy = Image.effect_noise((200, 200), 64).convert("RGB")
    for fmt in ("PNG", "JPEG"):
        data = _encode(noisy, fmt)
        with pytest.raises(ImageError, match="damaged or incomplete"):
            check_screenshot(data[: len(data) // 2], **LIMITS)


def test_too_many_bytes_is_refused() -> None:
    data = _encode(Image.new("RGB", (100, 100)), "BMP")
    with pytest.raises(ImageError, match="too large"):
        check_screenshot(data, max_bytes=len(data) - 1, max_pixels=LIMITS["max_pixels"])


def test_too_many_pixels_is_refused_before_decoding() -> None:
    with pytest.raises(ImageError, match="too many pixels"):
        check_screenshot(_png_header_only(8000, 6000), **LIMITS)  # 48 MP declared in a ~100-byte file
    with pytest.raises(ImageError, match="too many pixels"):
        check_screenshot(_encode(Image.new("RGB", (200, 100)), "PNG"), max_bytes=10_000_000, max_pixels=19_999)


def test_decompression_bomb_is_refused() -> None:
    # 10 gigapixels declared: Pillow's own guard fires inside Image.open; it must still be an ImageError.
    with pytest.raises(ImageError, match="too many pixels"):
        check_screenshot(_png_header_only(100_000, 100_000), max_bytes=10_000_000, max_pixels=10**12)


def test_zero_size_image_is_refused() -> None:
    with pytest.raises(ImageError):
        check_screenshot(_png_header_only(0, 10), **LIMITS)


def test_downscale_for_ocr_keeps_aspect_and_reports_scale() -> None:
    image = Image.new("RGB", (4000, 2000))
    small, scale = downscale_for_ocr(image, 2_000_000)
    assert small.width * small.height <= 2_000_000 * 1.01
    assert abs(small.width / small.height - 2.0) < 0.01
    assert scale == pytest.approx(small.width / 4000, rel=0.01)
    same, one = downscale_for_ocr(image, 10_000_000)
    assert same is image and one == 1.0


class _CountingOcr:
    """Stands in for RapidOCR only to count calls: what is checked is that OCR never starts, not OCR itself."""

    name, languages = "counting", ("en",)

    def __init__(self) -> None:
        self.calls = 0

    def warm_up(self) -> None:
        pass

    def read(self, image: Image.Image) -> tuple:
        self.calls += 1
        return ()


def test_default_pixel_limit_refuses_a_bomb_like_png_before_ocr() -> None:
    """Issue #9 item 11: a few KB of real PNG declaring 20 MP (40 MP cost 2-7 s of CPU) never reaches OCR."""
    config = AgentConfig()
    assert 12_000_000 <= config.max_image_pixels <= 16_000_000
    bomb = _encode(Image.new("1", (5_000, 4_000)), "PNG")  # 20 MP, all black: a tiny file that decodes huge
    assert len(bomb) < 10_000
    ocr = _CountingOcr()
    with pytest.raises(ImageError, match="too many pixels"):
        read_screenshot(bomb, config, ocr)
    assert ocr.calls == 0


@pytest.mark.parametrize("size", [(1290, 2796), (1440, 3200), (2048, 2732), (5120, 2880), (1290, 12_000)], ids=str)
def test_default_pixel_limit_still_fits_real_screenshots(size: tuple[int, int]) -> None:
    """Phones, a tablet, a 5K desktop, and a long scrolling capture (header check only: nothing decoded)."""
    width, height = size
    assert width * height <= AgentConfig().max_image_pixels
