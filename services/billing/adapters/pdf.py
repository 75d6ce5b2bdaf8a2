"""Printing a document's HTML to PDF with WeasyPrint (it needs Pango from the system:
``infra/setup.sh`` installs it). Blocking and CPU-bound: callers run it in a thread."""

from __future__ import annotations

from weasyprint import HTML


def html_to_pdf(html: str) -> bytes:
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
