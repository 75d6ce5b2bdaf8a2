"""Email: French Jinja2 templates rendered to text and HTML, sent over SMTP."""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from pathlib import Path
from typing import Any
from uuid import UUID

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape

from services.notifications.config import NotificationSettings
from services.notifications.domain.delivery import DeliveryFailed, smtp_failure
from services.notifications.domain.model import Delivery, Kind
from services.notifications.domain.unsubscribe import unsubscribe_token

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")

# Quoted-printable, so that the message is 7-bit clean for any relay and stays readable.
UTF8 = Charset("utf-8")
UTF8.header_encoding = QP
UTF8.body_encoding = QP


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


class Templates:
    """``<kind>.subject.txt``, ``<kind>.txt`` and ``<kind>.html`` for each kind."""

    def __init__(self, directory: Path = TEMPLATES) -> None:
        self._env = Environment(
            loader=FileSystemLoader(directory),
            # Every value comes from outside (titles typed by a collectivité…): escaped in
            # HTML; text parts and subjects are not HTML.
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, kind: Kind, context: dict[str, Any]) -> Rendered:
        values = dict(context)
        if kind is Kind.RESUME_QUOTIDIEN:
            values["messages"] = [
                self.render(Kind(item["kind"]), item["context"]) for item in context["items"]
            ]
        subject = self._env.get_template(f"{kind.value}.subject.txt").render(values)
        return Rendered(
            # One line: a line break in a header would end it.
            subject=LINE_BREAKS.sub(" ", subject).strip(),
            text=self._env.get_template(f"{kind.value}.txt").render(values),
            html=self._env.get_template(f"{kind.value}.html").render(values),
        )


def message_id(delivery: Delivery, domain: str) -> str:
    return f"<{delivery.id}@{domain}>"


def compose(delivery: Delivery, rendered: Rendered, *, sender: str, domain: str) -> MIMEMultipart:
    """The message as it goes on the wire.

    Built with the MIME classes, whose headers fold non-ASCII text into encoded words
    correctly: Python 3.11's ``EmailMessage`` drops the space between two encoded words
    when it folds ("… — 1 225,00 €" arrives as "…—1 225,00 €").
    """
    message = MIMEMultipart("alternative")
    name, address = email.utils.parseaddr(sender)
    message["From"] = email.utils.formataddr((name, address), charset=UTF8)
    message["To"] = delivery.address or ""
    message["Subject"] = Header(rendered.subject, UTF8, header_name="Subject").encode()
    # The same on every attempt: a mail system that got it already can tell.
    message["Message-ID"] = message_id(delivery, domain)
    message["Date"] = email.utils.format_datetime(delivery.created_at or datetime.now(UTC))
    # RFC 3834: no vacation auto-replies to an automatic message.
    message["Auto-Submitted"] = "auto-generated"
    message["X-MG-Kind"] = delivery.kind.value
    for subtype, content in (("plain", rendered.text), ("html", rendered.html)):
        part = MIMENonMultipart("text", subtype, charset="utf-8")
        part.set_payload(content, UTF8)
        message.attach(part)
    return message


class SmtpMailer:
    def __init__(self, settings: NotificationSettings, templates: Templates | None = None) -> None:
        self._settings = settings
        self._templates = templates or Templates()

    async def send(self, delivery: Delivery) -> None:
        s = self._settings
        payload = delivery.payload
        link = self.unsubscribe_url(payload)
        if link is not None:
            payload = payload | {"unsubscribe_url": link}
        try:
            rendered = self._templates.render(delivery.kind, payload)
        except (TemplateError, KeyError, ValueError) as exc:
            raise DeliveryFailed("template_error", repr(exc)[:300], permanent=True) from exc
        message = compose(delivery, rendered, sender=s.sender, domain=s.message_id_domain)
        if link is not None:
            # RFC 2369 and RFC 8058: the mail client's own "unsubscribe", in one click.
            message["List-Unsubscribe"] = f"<{link}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_security == "tls",
                start_tls=s.smtp_security == "starttls",
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPTimeoutError as exc:
            raise DeliveryFailed("timeout", str(exc)[:300]) from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0] if exc.recipients else None
            code = refused.code if refused else 550
            raise smtp_failure(code, refused.message if refused else str(exc)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise smtp_failure(exc.code, exc.message) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed("connection_error", type(exc).__name__) from exc

    def unsubscribe_url(self, payload: dict[str, Any]) -> str | None:
        """The signed link of the message's contact (ADR 0021); none for a message that
        names no contact (a digest, a webhook failure notice of old)."""
        raw = payload.get("contact_id")
        if not isinstance(raw, str):
            return None
        try:
            contact_id = UUID(raw)
        except ValueError:
            return None
        token = unsubscribe_token(self._settings.link_secret.get_secret_value(), contact_id)
        return f"{self._settings.public_url.rstrip('/')}/v1/unsubscribe?token={token}"

    async def aclose(self) -> None:
        """Nothing kept open: one connection per message keeps failures independent."""
