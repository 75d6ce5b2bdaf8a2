"""The course of the demo's missions: before an actor completes a mission, it marks each
milestone of the plan done with one small generated PDF (a deliverable); the summary
counts them. Deterministic for a seed: the PDFs hold no date."""

from __future__ import annotations

import io
from dataclasses import dataclass

import httpx
from rich.console import Console

from shared.french import file_size
from shared.settings import AuthSettings
from stack.scenario.api import actor_headers


@dataclass
class MissionCourse:
    """What the actors delivered during the play."""

    milestones_done: int = 0
    deliverables: int = 0
    deliverable_bytes: int = 0


def _pdf_text(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return escaped.encode("cp1252", errors="replace")


def deliverable_pdf(*lines: str) -> bytes:
    """A one-page PDF (1.4) with ``lines`` in Helvetica: small, valid, made here."""
    text = b"".join(
        b"BT /F1 12 Tf 72 %d Td (" % (760 - 18 * i) + _pdf_text(line) + b") Tj ET\n"
        for i, line in enumerate(lines)
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


async def deliver_milestones(
    matching: httpx.AsyncClient,
    auth: AuthSettings,
    *,
    departement: str,
    actor_id: str,
    assignment_id: str,
    title: str,
    course: MissionCourse,
) -> None:
    """The actor marks every open milestone of its mission done, one PDF each."""
    headers = actor_headers(auth, departement, actor_id)
    timeline = await matching.get(f"/v1/missions/{assignment_id}/timeline", headers=headers)
    timeline.raise_for_status()
    for milestone in timeline.json()["milestones"]:
        if milestone["status"] != "open":
            continue
        base = f"/v1/missions/{assignment_id}/milestones/{milestone['id']}"
        pdf = deliverable_pdf(milestone["title"], title, f"Mission conduite par {actor_id}")
        added = await matching.post(
            f"{base}/deliverables",
            params={"name": f"jalon-{milestone['position']}.pdf"},
            content=pdf,
            headers=headers | {"Content-Type": "application/pdf"},
        )
        added.raise_for_status()
        course.deliverables += 1
        course.deliverable_bytes += len(pdf)
        done = await matching.post(f"{base}/done", json={}, headers=headers)
        done.raise_for_status()
        course.milestones_done += 1


def report_course(course: MissionCourse, console: Console) -> None:
    console.print(
        f"Jalons remis : {course.milestones_done} ; livrables : {course.deliverables} "
        f"({file_size(course.deliverable_bytes)} au total)"
    )
