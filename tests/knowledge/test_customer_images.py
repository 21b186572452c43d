"""Customers' photos judged by their bytes (knowledge.images): what is taken, what is refused, and
what is left of a photo once it is stored (no metadata)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, PngImagePlugin

from knowledge import images
from knowledge.models import File

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def picture(fmt: str = "PNG", size=(40, 30), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 60, 50)).save(out, format=fmt, **save)
    return out.getvalue()


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to show upright
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)})  # GPS
    return exif


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge picture in a few bytes: what a decompression bomb starts with."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def test_a_png_named_jpg_is_taken_as_the_png_it_is():
    stored = images.customer_image_create(thread_public_id="thread_a", data=picture("PNG"))
    assert (stored.content_type, stored.filename, stored.purpose) == ("image/png", "photo.png", File.Purpose.VISION)
    assert (stored.owner_id, stored.thread_public_id) == (None, "thread_a")
    with stored.content.open("rb") as handle:
        assert Image.open(handle).size == (40, 30)


@pytest.mark.parametrize("fmt, kind", [("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_jpeg_and_webp_are_taken(fmt, kind):
    _, content_type, _ = images.clean_image(picture(fmt))
    assert content_type == kind


@pytest.mark.parametrize(
    "data",
    [
        b"<!doctype html><html><script>alert(1)</script></html>",
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'><rect width='9' height='9'/></svg>",
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nendobj\ntrailer << /Root 1 0 R >>\n%%EOF",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        picture("PNG")[:60],  # a PNG cut short: its header promises pixels that never come
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x00",
    ],
    ids=["html", "svg", "pdf", "gif", "truncated-png", "png-signature-only"],
)
def test_anything_but_a_whole_png_jpeg_or_webp_is_refused(data):
    with pytest.raises(images.ImageRefused) as refused:
        images.customer_image_create(thread_public_id="thread_a", data=data)
    assert refused.value.http_status == 400
    assert "not a photo" in refused.value.message
    assert not File.objects.exists()


@pytest.mark.parametrize("side", [10_000, 100_000])  # past our limit; past Pillow's own as well
def test_a_decompression_bomb_is_refused_from_its_header(side):
    bomb = png_header_claiming(side, side)
    assert len(bomb) < 100
    with pytest.raises(images.ImageTooLarge) as refused:
        images.customer_image_create(thread_public_id="thread_a", data=bomb)
    assert "pixels" in refused.value.message
    assert refused.value.http_status == 413
    assert not File.objects.exists()


def test_the_pixel_limit_is_a_setting(settings):
    settings.WIDGET_MAX_IMAGE_PIXELS = 1000
    with pytest.raises(images.ImageTooLarge):
        images.clean_image(picture(size=(40, 30)))  # 1,200 pixels
    settings.WIDGET_MAX_IMAGE_PIXELS = 1200
    assert images.clean_image(picture(size=(40, 30)))[1] == "image/png"


def test_a_file_over_the_size_limit_is_refused_before_it_is_decoded(settings):
    data = picture()
    settings.WIDGET_MAX_IMAGE_BYTES = len(data) - 1
    with pytest.raises(images.ImageTooLarge) as refused:
        images.customer_image_create(thread_public_id="thread_a", data=data)
    assert "the limit is" in refused.value.message
    assert not File.objects.exists()


def test_an_empty_file_is_refused():
    with pytest.raises(images.ImageRefused):
        images.clean_image(b"")


def test_a_phones_exif_is_gone_and_the_photo_turned_upright():
    original = picture("JPEG", size=(40, 30), exif=gps_exif())
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the GPS position is there

    cleaned, kind, _ = images.clean_image(original)

    stored = Image.open(io.BytesIO(cleaned))
    assert kind == "image/jpeg"
    assert not stored.getexif()  # no GPS, no maker, no orientation left to apply
    assert b"PhoneMaker" not in cleaned
    assert stored.size == (30, 40)  # the orientation was applied to the pixels instead


def test_png_text_chunks_are_not_kept():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret home address")
    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(out, format="PNG", pnginfo=info)

    cleaned, _, _ = images.clean_image(out.getvalue())

    assert b"secret home address" not in cleaned
    assert Image.open(io.BytesIO(cleaned)).mode == "RGBA"  # transparency kept
