"""Checking an uploaded screenshot, then reading its text: bytes in, a `Screenshot` out.

Everything a customer uploads is hostile until proven otherwise: the format is decided by the file's
content (never its name), the pixel count is checked from the header before anything is decoded, and
every failure becomes an `ImageError` whose message tells the customer what to send instead.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, replace

from PIL import Image, ImageOps, UnidentifiedImageError

from agent.errors import ImageError
from agent.ocr import OcrEngine
from agent.ocr_layout import join_lines, reading_order
from agent.settings import AgentConfig
from agent.types import OcrLine, Screenshot

log = logging.getLogger(__name__)

# Pillow format names; restricting Image.open to these also keeps exotic decoders off hostile input.
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
NOT_A_PICTURE = "This file is not a picture we can read: please attach a PNG, JPEG, WebP, GIF or BMP screenshot."


@dataclass(frozen=True)
class CheckedImage:
    """A decoded upload that passed every check: RGB, EXIF orientation applied."""

    image: Image.Image
    source_format: str  # what the content was: "PNG", "JPEG", ...
    png: bytes  # the normalised image, for storage and the VLM

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height


def check_screenshot(data: bytes, *, max_bytes: int, max_pixels: int) -> CheckedImage:
    """Decode and check an upload; raise ImageError with a message for the customer when it is refused."""
    if not data:
        raise ImageError("The attached file is empty: please attach the screenshot again.")
    if len(data) > max_bytes:
        raise ImageError(
            f"The picture is too large ({len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB): "
            "please send a smaller screenshot or crop it."
        )
    _refuse_known_non_images(data)
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as e:
        # Pillow's own guard (twice Image.MAX_IMAGE_PIXELS) fires before ours for absurd headers.
        raise ImageError(_too_many_pixels_message(max_pixels)) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageError(NOT_A_PICTURE) from e
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError("The picture has no pixels (zero width or height): please attach a real screenshot.")
    # Checked from the header alone, before decoding: a few KB of PNG can declare gigapixels.
    if width * height > max_pixels:
        raise ImageError(_too_many_pixels_message(max_pixels))
    source_format = str(image.format)
    try:
        image.load()  # first frame only for GIF/WebP animations
    except Exception as e:  # noqa: BLE001 - Pillow's decoders raise a zoo of types on damaged input
        raise ImageError(
            "The picture is damaged or incomplete (the upload may have been cut off): please attach it again."
        ) from e
    rgb = _to_rgb(_apply_exif_orientation(image))
    return CheckedImage(image=rgb, source_format=source_format, png=encode_png(rgb))


def read_screenshot(data: bytes, config: AgentConfig, ocr: OcrEngine) -> Screenshot:
    """Check an upload, OCR it and return its text in reading order (untrusted: quote it before prompting)."""
    checked = check_screenshot(data, max_bytes=config.max_image_bytes, max_pixels=config.max_image_pixels)
    ocr_image, scale = downscale_for_ocr(checked.image, config.ocr_max_pixels)
    lines = ocr.read(ocr_image)
    if scale != 1.0:
        lines = tuple(_scale_line(line, 1.0 / scale) for line in lines)
    ordered = reading_order(lines)
    return Screenshot(
        png=checked.png,
        width=checked.width,
        height=checked.height,
        ocr_text=join_lines(ordered),
        lines=ordered,
    )


def downscale_for_ocr(image: Image.Image, max_pixels: int) -> tuple[Image.Image, float]:
    """Shrink a huge (but allowed) image to about max_pixels for OCR; returns the image and the scale used."""
    pixels = image.width * image.height
    if pixels <= max_pixels:
        return image, 1.0
    scale = (max_pixels / pixels) ** 0.5
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS), scale


def encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # Level 3 is ~3x faster than the default 6 on phone screenshots for a few % more bytes.
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def _refuse_known_non_images(data: bytes) -> None:
    """Name the common wrong attachments, so the customer knows why their file was refused."""
    head = data[:512].lstrip().lower()
    if head.startswith(b"%pdf"):
        raise ImageError(
            "PDF documents are not accepted here: please attach a screenshot (PNG, JPEG, WebP, GIF or BMP)."
        )
    if head.startswith((b"<svg", b"<?xml")) or b"<svg" in head:
        raise ImageError("SVG drawings are not accepted: please attach a screenshot (PNG, JPEG, WebP, GIF or BMP).")


def _too_many_pixels_message(max_pixels: int) -> str:
    return (
        f"The picture has too many pixels (the limit is {max_pixels / 1e6:.0f} megapixels): "
        "please send a normal screenshot or crop it."
    )


def _apply_exif_orientation(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a broken EXIF block should not cost the customer their screenshot
        log.warning("ignoring unreadable EXIF orientation in an uploaded screenshot", exc_info=True)
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB on white: transparent areas of a PNG or GIF would otherwise turn black and hide dark text."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _scale_line(line: OcrLine, factor: float) -> OcrLine:
    return replace(line, box=tuple((x * factor, y * factor) for x, y in line.box))
