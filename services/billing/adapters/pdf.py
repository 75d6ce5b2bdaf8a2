"""Printing a document's HTML to PDF with WeasyPrint (it needs Pango from the system:
``infra/setup.sh`` installs it). Blocking and CPU-bound: callers run it in a thread."""

from __future__ import annotations


def html_to_pdf(html: str) -> bytes:
    # Imported on first use: the service starts, and serves everything but PDFs, on a
    # machine where Pango is missing.
    from weasyprint import HTML

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
