"""Image inspection with Pillow, guarded against decompression bombs."""

from __future__ import annotations

import colorsys
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageStat, UnidentifiedImageError

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
                        facts={"width": width, "height": height, "limit": max_pixels},
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


# Claude reads images best up to about 1568 px on the long side; larger ones are
# scaled down by the service anyway, so sending them only costs upload time.
MODEL_IMAGE_MAX_SIDE = 1568
# Bedrock refuses image blocks over 3.75 MB; stay well under after base64.
MODEL_IMAGE_MAX_BYTES = 2_500_000


@dataclass(frozen=True)
class ModelImage:
    """An image ready to send to a model: re-encoded by us, never the customer's bytes."""

    media_type: str
    data: bytes
    width: int
    height: int


def image_for_model(
    path: str, *, max_side: int = MODEL_IMAGE_MAX_SIDE, max_pixels: int = MAX_PIXELS,
    max_bytes: int = MODEL_IMAGE_MAX_BYTES,
) -> ModelImage:
    """Decode safely, drop metadata and alpha, shrink and re-encode as JPEG.

    Raises MediaRejected for bombs and damaged files (see ``inspect_image``).
    """
    inspect_image(path, max_pixels=max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.seek(0)  # the first frame of an animation is what a post shows
                img.load()
                picture = _flatten(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning,
            UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaRejected(
            "The image is damaged or truncated and could not be decoded.", code="image_unreadable"
        ) from exc
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    for quality in (85, 70, 55, 40):
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=quality, optimize=True)
        if buffer.tell() <= max_bytes:
            return ModelImage("image/jpeg", buffer.getvalue(), picture.width, picture.height)
        picture.thumbnail((picture.width * 3 // 4, picture.height * 3 // 4))
    raise MediaRejected("The image could not be made small enough to describe.",
                        code="image_too_large")


def _flatten(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def dominant_colours(path: str, *, count: int = 2) -> tuple[str, ...]:
    """The names of the picture's main colours, most covered first ("blue", "orange").

    Cheap: the picture is shrunk to 48 px and reduced to a few colours first. Call it
    after ``inspect_image`` has accepted the file; an unreadable one gives no colours.
    """
    try:
        with Image.open(path) as img:
            img.seek(0)
            img.draft("RGB", (96, 96))  # JPEG decodes at a fraction of its size
            small = _flatten(img)
            small.thumbnail((48, 48))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return ()
    palette = small.quantize(colors=6, method=Image.Quantize.MEDIANCUT)
    rgb = palette.getpalette() or []
    shares: dict[str, int] = {}
    for pixels, index in sorted(palette.getcolors() or [], reverse=True):
        red, green, blue = (v / 255 for v in rgb[index * 3:index * 3 + 3])
        name = _colour_name(*colorsys.rgb_to_hsv(red, green, blue))
        shares[name] = shares.get(name, 0) + pixels
    ranked = sorted(shares, key=shares.get, reverse=True)
    return tuple(ranked[:count])


def _colour_name(hue: float, saturation: float, value: float) -> str:
    if value < 0.18:
        return "black"
    if saturation < 0.15:
        return "white" if value > 0.85 else "grey"
    degrees = hue * 360
    if 15 <= degrees < 45 and value < 0.6:
        return "brown"
    for limit, name in ((15, "red"), (45, "orange"), (70, "yellow"), (165, "green"),
                        (195, "teal"), (255, "blue"), (290, "purple"), (340, "pink")):
        if degrees < limit:
            return name
    return "red"


def most_detailed(paths: list[str]) -> str | None:
    """The picture with the most contrast: a key frame worth showing, not a black fade-in
    or a plain title card. None when no path can be read."""
    best, best_spread = None, -1.0
    for path in paths:
        try:
            with Image.open(path) as img:
                img.draft("L", (160, 160))
                grey = img.convert("L")
                grey.thumbnail((160, 160))
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            continue
        spread = ImageStat.Stat(grey).stddev[0]
        if spread > best_spread:
            best, best_spread = path, spread
    return best
