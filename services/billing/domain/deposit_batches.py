"""Chorus Pro deposit batches: the Factur-X files of a département's year, packed into
zip files that the portal accepts (each at most 10 MB, names of at most 50 ASCII
characters).

The same files give the same bytes: every entry has a fixed time, system and mode, and
the files keep their order (the invoices' number order), so a second export can be
compared byte for byte with the first, or deposited again without a doubt.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from shared.errors import DomainValidationError, FieldError

# Chorus Pro's limit for a deposit is 10 MB; 10 000 000 bytes is under it whichever
# megabyte the portal means.
MAX_BATCH_BYTES = 10_000_000
MAX_NAME_LENGTH = 50
# The earliest time a zip entry can carry (MS-DOS dates start in 1980); never "now".
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_UNIX = 3
_MODE = 0o100644 << 16
# The end-of-central-directory record that closes every zip (no comment, no zip64).
_END_RECORD = 22


@dataclass(frozen=True, slots=True)
class Batch:
    name: str
    content: bytes
    entries: tuple[str, ...]


def _checked(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH or not name.isascii():
        raise DomainValidationError(
            [FieldError("fichier", f"Nom refusé par Chorus Pro (50 caractères ASCII) : {name}")]
        )
    return name


def entry_name(number: str) -> str:
    """The file of one invoice or credit note in a batch: its number, which is unique."""
    return _checked(f"FX-{number}.pdf")


def batch_name(departement: str, year: int, index: int) -> str:
    return _checked(f"MG-{departement}-{year}-lot-{index:03d}.zip")


def _zip(files: Sequence[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.create_system = _UNIX
            info.external_attr = _MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content, compresslevel=6)
    return buffer.getvalue()


def pack(
    departement: str,
    year: int,
    files: Sequence[tuple[str, bytes]],
    limit: int = MAX_BATCH_BYTES,
) -> list[Batch]:
    """``files`` (name, content), in order, into as few consecutive batches as fit under
    ``limit`` bytes each. A file that cannot fit alone is refused: nothing is packed."""
    # An entry takes the same bytes in any zip (its local header, data and central
    # record), so its cost is measured once, alone, and the batches are cut exactly.
    costs = [len(_zip([file])) - _END_RECORD for file in files]
    groups: list[list[tuple[str, bytes]]] = []
    size = limit + 1
    for file, cost in zip(files, costs, strict=True):
        if _END_RECORD + cost > limit:
            raise DomainValidationError(
                [FieldError("fichier", f"{file[0]} dépasse à lui seul la taille d'un lot.")]
            )
        if size + cost > limit:
            groups.append([])
            size = _END_RECORD
        groups[-1].append(file)
        size += cost
    batches = [
        Batch(
            name=batch_name(departement, year, index),
            content=_zip(group),
            entries=tuple(name for name, _ in group),
        )
        for index, group in enumerate(groups, 1)
    ]
    # The cut relies on zip's layout; a batch over the limit must never be written.
    if any(len(b.content) > limit for b in batches):
        raise RuntimeError("a deposit batch exceeds its limit")
    return batches


def named(batches: list[Batch], stem: str) -> list[Batch]:
    """The batches as the operator named the export: ``stem.zip`` when there is one,
    ``stem-001.zip``, ``stem-002.zip``… when there are more."""
    if len(batches) == 1:
        return [dataclasses.replace(batches[0], name=_checked(f"{stem}.zip"))]
    return [
        dataclasses.replace(b, name=_checked(f"{stem}-{index:03d}.zip"))
        for index, b in enumerate(batches, 1)
    ]


MANIFEST_COLUMNS = (
    "fichier",
    "lot",
    "numero",
    "type",
    "siret_acheteur",
    "code_service",
    "engagement",
    "montant_ttc",
    "sha256",
)


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One file of the deposit: what Chorus Pro will read in it, and its fingerprint.
    The amount is the XML's (BT-112), positive for a credit note (type 381)."""

    entry: str
    number: str
    type_code: str
    buyer_siret: str
    service_code: str | None
    engagement_number: str | None
    amount: Decimal
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def manifest_csv(batches: Sequence[Batch], rows: Sequence[ManifestRow]) -> bytes:
    """The manifest of a deposit, in the exports' CSV convention (``;``, CRLF, amounts
    with a point): one row per file, in batch order."""
    batch_of = {entry: b.name for b in batches for entry in b.entries}
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(MANIFEST_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.entry,
                batch_of[row.entry],
                row.number,
                row.type_code,
                row.buyer_siret,
                row.service_code or "",
                row.engagement_number or "",
                f"{row.amount:.2f}",
                row.sha256,
            ]
        )
    return out.getvalue().encode()
