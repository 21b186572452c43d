"""Photos customers attach in the chat (a damaged item, a wrong label), and images in messages.

A customer's photo is judged by its bytes, never by its name or the browser's word: it must decode
as a PNG, JPEG or WebP within WIDGET_MAX_IMAGE_BYTES and WIDGET_MAX_IMAGE_PIXELS (a decompression
bomb is refused before it is decoded). It is then drawn again, turned upright, without its
metadata (EXIF with a phone's GPS position, comments, colour profiles), and stored as a File of
purpose `vision` that belongs to no API key but to its conversation (`thread_public_id`). Only the
customer of that conversation and the console's agents ever read it back.

For the runtime (hooks.image_source), the same module answers which image file ids a thread's
messages may name and what an image's bytes are, for the model.
"""

from __future__ import annotations

import hashlib
import io
import warnings

from django.conf import settings
from django.core.files.base import ContentFile
from django.http import FileResponse
from PIL import Image, ImageOps, UnidentifiedImageError

from common.errors import DomainError, NotFound
from knowledge.models import File

# Pillow format name → (content type, extension). Other formats (SVG, GIF, TIFF, HEIC…) are refused.
FORMATS = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"), "WEBP": ("image/webp", "webp")}
IMAGE_TYPES = frozenset(kind for kind, _ in FORMATS.values())
SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


class ImageRefused(DomainError):
    code = "invalid_image"
    http_status = 400


class ImageTooLarge(DomainError):
    code = "image_too_large"
    http_status = 413


def image_type(head: bytes) -> str | None:
    """The image type a file's first bytes say it is (PNG, JPEG or WebP), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for signature, kind in SIGNATURES if head.startswith(signature)), None)


def clean_image(data: bytes) -> tuple[bytes, str, str]:
    """`data` decoded and drawn again without metadata: (bytes, content type, extension).

    Raises ImageTooLarge past the size or pixel limits, ImageRefused for anything that is not a
    whole PNG, JPEG or WebP image."""
    limit = settings.WIDGET_MAX_IMAGE_BYTES
    if len(data) > limit:
        raise ImageTooLarge(f"The photo is {_megabytes(len(data))}; the limit is {_megabytes(limit)}.")
    if not data:
        raise ImageRefused("The file is empty.")
    refused = ImageRefused("That file is not a photo we can take: send a PNG, JPEG or WebP image.")
    try:
        # Pillow's own bomb check warns (or raises) by its global limit; ours is checked first, from
        # the header alone, and every warning is an error here.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
            width, height = image.size
            if width * height > settings.WIDGET_MAX_IMAGE_PIXELS:
                raise ImageTooLarge(
                    f"The photo is {width}×{height} pixels; the limit is "
                    f"{settings.WIDGET_MAX_IMAGE_PIXELS // 1_000_000} megapixels."
                )
            kind, extension = FORMATS[image.format]
            image.load()  # a truncated or corrupt file fails here, not later
            upright = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge("The photo has too many pixels to be a photo.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Warning):
        raise refused from None
    return _encode(upright, image.format), kind, extension


def _encode(image: Image.Image, fmt: str) -> bytes:
    """The picture alone, in its own format: no EXIF, no text chunks, no ICC profile."""
    out = io.BytesIO()
    if fmt == "JPEG":
        image = image.convert("RGB") if image.mode not in ("RGB", "L") else image
        image.save(out, format="JPEG", quality=90, optimize=True)
    elif fmt == "WEBP":
        image.save(out, format="WEBP", quality=90)
    else:
        image = image if image.mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16") else image.convert("RGBA")
        image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def customer_image_create(*, thread_public_id: str, data: bytes) -> File:
    """Store a customer's photo for their conversation, cleaned (clean_image). Raises its errors."""
    cleaned, kind, extension = clean_image(data)
    file = File(
        owner=None,
        thread_public_id=thread_public_id,
        filename=f"photo.{extension}",
        purpose=File.Purpose.VISION,
        bytes=len(cleaned),
        content_type=kind,
        sha256=hashlib.sha256(cleaned).hexdigest(),
    )
    file.content.save(file.filename, ContentFile(cleaned), save=False)
    try:
        file.save()
    except Exception:
        file.content.delete(save=False)
        raise
    return file


# --- reading them back ------------------------------------------------------------------------------


def customer_images():
    """Every photo a customer attached in the chat (never a /v1 caller's file, nor the shop's own)."""
    return File.objects.filter(owner=None, purpose=File.Purpose.VISION).exclude(thread_public_id="")


def access_conversation_image(thread_public_id: str, file_id: str) -> File:
    """A photo attached in this conversation; any other file reads as not found."""
    file = customer_images().filter(thread_public_id=thread_public_id, public_id=file_id).first()
    if file is None:
        raise NotFound("No such photo in this conversation.")
    return file


def access_customer_image(file_id: str) -> File:
    """A photo any customer attached (for the console's agents); any other file reads as not found."""
    file = customer_images().filter(public_id=file_id).first()
    if file is None:
        raise NotFound("No such photo.")
    return file


def images_for(thread):
    """The files a message in `thread` may show as images: a /v1 thread's owner's files; a
    customer conversation's own photos."""
    if thread.owner_id is not None:
        return File.objects.filter(owner_id=thread.owner_id)
    return customer_images().filter(thread_public_id=thread.public_id)


def missing_images(thread, file_ids: list[str]) -> list[str]:
    """hooks.image_source: the ids among `file_ids` that no image file of `thread` has."""
    found = set(images_for(thread).filter(public_id__in=file_ids).values_list("public_id", flat=True))
    return [file_id for file_id in file_ids if file_id not in found]


def read_image(thread, file_id: str) -> tuple[str, bytes] | None:
    """hooks.image_source: (content type, bytes) of an image file of `thread`; None when the file
    is gone or its bytes are not a PNG, JPEG or WebP image (a /v1 caller may name any file)."""
    file = images_for(thread).filter(public_id=file_id).first()
    if file is None:
        return None
    with file.content.open("rb") as handle:
        data = handle.read()
    kind = image_type(data[:16])
    return (kind, data) if kind else None


def image_response(file: File) -> FileResponse:
    """A stored photo, inline, never read as anything but an image (its type is ours: we drew it)."""
    response = FileResponse(file.content.open("rb"), content_type=file.content_type)
    response["Content-Disposition"] = f'inline; filename="{file.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response
