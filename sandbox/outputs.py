"""What an execution made, kept as files of its thread's owner (purpose `assistants_output`).

Figures the code showed, and files it wrote under /mnt/data, become knowledge Files: downloadable
by the thread's owner through /v1/files/{id}/content, shown in the answer (images), linked from it
(`sandbox:/mnt/data/<name>`, which the runtime annotates with `file_path`).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import PurePosixPath

from knowledge.models import File
from knowledge.services import output_file_create
from runtime.models import Thread
from sandbox.sessions import Execution

DATA = "/mnt/data"
# Images told by their first bytes, not their names: only these are shown in a message.
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
# Types a file written by the code is served as, by its name; anything else is octet-stream. (The
# download is an attachment with nosniff, whatever its type.)
TEXT_TYPES = frozenset({"text/csv", "text/plain", "application/json", "text/markdown", "text/tab-separated-values"})


@dataclass(frozen=True)
class Output:
    """One file an execution made: a figure it showed (no path), or a file it wrote."""

    file: File
    path: str | None  # /mnt/data/<name> for a file written there
    image: bool

    def for_model(self) -> dict:
        """How the tool's result lists it (runtime.engine.citations' `message_files`)."""
        shown = {"file_id": self.file.public_id, "name": self.file.filename, "image": self.image}
        if self.path:
            shown["path"] = self.path
            shown["link"] = f"sandbox:{self.path}"
        return shown


def image_type(content: bytes) -> str | None:
    return next((kind for signature, kind in IMAGE_SIGNATURES if content.startswith(signature)), None)


def content_type(name: str, content: bytes) -> str:
    image = image_type(content)
    if image:
        return image
    guessed, _ = mimetypes.guess_type(name)
    if guessed in TEXT_TYPES:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return "application/octet-stream"
        return guessed
    return "application/octet-stream"


def store_outputs(thread: Thread, execution: Execution) -> list[Output]:
    """Store the figures and files of `execution` as the thread owner's files, figures first."""
    owner = thread.owner
    stored = [
        Output(
            file=output_file_create(owner=owner, filename=figure.name, data=figure.content, content_type="image/png"),
            path=None,
            image=True,
        )
        for figure in execution.images
    ]
    for written in execution.files:
        kind = content_type(written.name, written.content)
        name = PurePosixPath(written.name).name
        file = output_file_create(owner=owner, filename=name, data=written.content, content_type=kind)
        stored.append(Output(file=file, path=f"{DATA}/{written.name}", image=kind.startswith("image/")))
    return stored
