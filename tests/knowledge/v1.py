"""What the /v1 files and vector stores tests share: two key owners' clients, sample documents, and
uploads and store changes whose ingestion runs as it does on commit (RUN_DISPATCH is "inline").

Acme owns what it uploads; Globex is another key's owner, who must never see any of it.
"""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

RETURNS_MD = b"""# Returns and refunds

## Return window
You can return most items within 30 days of delivery. Clothing has a longer window of 60 days.

## Refunds
Once we receive your return, we refund the item's price to your original payment method within 5 business days.
"""

SHIPPING_MD = b"""# Shipping

## Delivery times
Standard shipping takes 3 to 5 business days; express shipping arrives the next business day.

## Carriers
We ship with UPS and DHL, and email you a tracking link as soon as the parcel leaves our warehouse.
"""

# Bytes that say they are a PDF and are not one; an image, which has no text to search.
NOT_A_PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage, not a document \x00\x01\x02"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def upload(client, name: str = "returns.md", data: bytes = RETURNS_MD, purpose: str = "assistants", **fields):
    """POST /v1/files as the SDK sends it: multipart/form-data with `file` and `purpose`."""
    body = {"file": SimpleUploadedFile(name, data), "purpose": purpose, **fields}
    return client.post("/v1/files", body, format="multipart")


BOUNDARY = "concierge-test-boundary"


def raw_upload(client, filename: bytes | str, data: bytes, purpose: bytes | str = "assistants", **extra):
    """POST /v1/files with a multipart body written byte for byte: the test client would strip a
    path from the filename itself, and cannot send a NUL in a field."""
    filename = filename.encode() if isinstance(filename, str) else filename
    purpose = purpose.encode() if isinstance(purpose, str) else purpose
    body = (
        b'--%(b)s\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n%(purpose)s\r\n'
        b'--%(b)s\r\nContent-Disposition: form-data; name="file"; filename="%(name)s"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n%(data)s\r\n--%(b)s--\r\n"
    ) % {b"b": BOUNDARY.encode(), b"purpose": purpose, b"name": filename, b"data": data}
    return client.generic("POST", "/v1/files", body, content_type=f"multipart/form-data; boundary={BOUNDARY}", **extra)


def uploaded(client, name: str = "returns.md", data: bytes = RETURNS_MD) -> dict:
    response = upload(client, name, data)
    assert response.status_code == 200, response.content
    return response.json()


def error_of(response, status: int, param: str | None = ...) -> dict:
    """The API's error envelope with this status (and `param`, when given)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["message"]
    if param is not ...:
        assert error["param"] == param, error
    return error
