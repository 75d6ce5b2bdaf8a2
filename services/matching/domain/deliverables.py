"""What a deliverable may be: its type is read from its first bytes (the upload's
``Content-Type`` header is whatever the client says), its size is capped."""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

MAX_DELIVERABLE_BYTES = 10 * 1024 * 1024

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
PNG = "image/png"
JPEG = "image/jpeg"

ACCEPTED_TYPES = {PDF: "PDF", DOCX: "DOCX", ODT: "ODT", XLSX: "XLSX", PNG: "PNG", JPEG: "JPEG"}
ACCEPTED_LABEL = ", ".join(ACCEPTED_TYPES.values())
TOO_LARGE = "Fichier trop volumineux : 10 Mo au plus par livrable."
UNSUPPORTED = f"Type de fichier non accepté ; types acceptés : {ACCEPTED_LABEL}."


class DeliverableTooLarge(Exception):
    """More than :data:`MAX_DELIVERABLE_BYTES`."""


class UnsupportedDeliverable(Exception):
    """Not one of :data:`ACCEPTED_TYPES`, by its bytes."""


def _office_type(data: bytes) -> str | None:
    """DOCX/XLSX (Office Open XML) or ODT (OpenDocument), from the zip's own entries."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                # OpenDocument: the first entry, stored, names the type.
                # Read a few bytes only: an entry may inflate to gigabytes (a zip bomb).
                with archive.open("mimetype") as entry:
                    declared = entry.read(100).decode("ascii", "replace").strip()
                return ODT if declared == ODT else None
            if "[Content_Types].xml" in names:
                if any(n.startswith("word/") for n in names):
                    return DOCX
                if any(n.startswith("xl/") for n in names):
                    return XLSX
    # A damaged archive fails in many ways (a bad CRC, a truncated or corrupt deflate
    # stream, a bad header): each means "not a document we accept", never a server error.
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        ValueError,
        RuntimeError,
        NotImplementedError,
        KeyError,
    ):
        return None
    return None


def sniff(data: bytes) -> str:
    """The content type of ``data`` from its signature; :class:`UnsupportedDeliverable`
    for anything else."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        found = _office_type(data)
        if found:
            return found
    raise UnsupportedDeliverable(UNSUPPORTED)


def checked(data: bytes) -> tuple[str, str]:
    """The sniffed content type and the SHA-256 (hex) of an upload within the cap."""
    if len(data) > MAX_DELIVERABLE_BYTES:
        raise DeliverableTooLarge(TOO_LARGE)
    if not data:
        raise UnsupportedDeliverable("Le fichier est vide.")
    return sniff(data), hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Deliverable:
    id: UUID
    assignment_id: UUID
    milestone_id: UUID
    departement: str
    name: str
    content_type: str
    size: int
    sha256: str
    added_at: datetime
    added_by: str

    @property
    def storage_key(self) -> str:
        """Where the bytes are kept: by département and mission, then the deliverable."""
        return f"{self.departement}/{self.assignment_id}/{self.id}"
