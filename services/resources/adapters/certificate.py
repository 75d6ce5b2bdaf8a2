"""The certificate of attendance of a training, as HTML printed to PDF by WeasyPrint (it
needs Pango from the system: ``infra/setup.sh`` installs it). Blocking and CPU-bound:
callers run it in a thread."""

from __future__ import annotations

from html import escape

from services.resources.domain.trainings import Registration, TrainingSession
from shared.french import long_datetime

STYLE = """
@page { size: A4; margin: 2.5cm; }
body { font-family: "DejaVu Sans", sans-serif; font-size: 11pt; color: #111; }
h1 { font-size: 18pt; text-align: center; margin-bottom: 1.5em; }
ul { margin: 1em 0 1.5em 1.5em; }
p.sign { margin-top: 3em; text-align: right; }
"""


def certificate_html(registration: Registration, session: TrainingSession) -> str:
    where = "en ligne" if session.online else escape(session.place or "")
    names = "".join(f"<li>{escape(n)}</li>" for n in registration.present or [])
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        f"<title>Attestation de présence</title><style>{STYLE}</style></head><body>"
        "<h1>Attestation de présence</h1>"
        f"<p>L'organisme de formation <strong>{escape(session.actor_id)}</strong> atteste que "
        "les personnes suivantes, inscrites par la collectivité "
        f"<strong>{escape(registration.collectivite_code)}</strong>, ont suivi la session "
        f"« {escape(session.title)} », {where}, du {escape(long_datetime(session.starts_at))} "
        f"au {escape(long_datetime(session.ends_at))} :</p><ul>{names}</ul>"
        f'<p class="sign">Présence relevée le '
        f"{escape(long_datetime(registration.attendance_at or session.ends_at))}.</p>"
        "</body></html>"
    )


def certificate_pdf(registration: Registration, session: TrainingSession) -> bytes:
    # Imported on first use: the service starts, and serves everything but PDFs, on a
    # machine where Pango is missing.
    from weasyprint import HTML

    pdf: bytes = HTML(string=certificate_html(registration, session)).write_pdf()
    return pdf
