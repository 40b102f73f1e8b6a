"""Image inspection with Pillow, guarded against decompression bombs."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from .errors import MediaRejected

MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


def inspect_image(path: str, *, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    """Open and fully decode the image once, so truncated or hostile files fail here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise MediaRejected(
                        f"The image is {width}x{height} pixels; the limit is "
                        f"{max_pixels:,} pixels.",
                        code="image_too_large",
                    )
                img.load()
                return ImageInfo(format=str(img.format), width=width, height=height)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRejected(
            "The image decompresses to too many pixels.", code="image_too_large"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaRejected(
            "The image is damaged or truncated and could not be decoded.", code="image_unreadable"
        ) from exc
