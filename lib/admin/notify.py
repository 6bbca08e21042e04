"""Sending alerts to an SMTP server and/or a webhook, with the standard library only.

Targets are run-time settings (`smtp_host`, `smtp_port`, `smtp_starttls`, `smtp_username`,
`smtp_from`, `smtp_to`, `webhook_url`); the SMTP password is a secret, read from
`C360_SMTP_PASSWORD` (environment or `.streamlit/secrets.toml`), never from the table. Nothing
is sent when no target is configured. `deliver` returns what happened per channel ("sent" or
the error) and never raises: lib/admin/alerts.py stores the outcome on the alert.

The message holds the rule, subject (a username, a job, a dimension), severity, times and
the rule's figures (counts and thresholds) — never a customer's data.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from lib.core import config, settings

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Targets:
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_from: str = ""
    smtp_to: tuple[str, ...] = ()
    webhook_url: str = ""

    @property
    def smtp(self) -> bool:
        return bool(self.smtp_host and self.smtp_from and self.smtp_to)

    @property
    def webhook(self) -> bool:
        return bool(self.webhook_url)

    def any(self) -> bool:
        return self.smtp or self.webhook


def targets() -> Targets:
    """The configured targets (settings; read through the settings cache)."""
    v = settings.get_many(
        "smtp_host", "smtp_port", "smtp_starttls", "smtp_username", "smtp_from", "smtp_to", "webhook_url"
    )
    return Targets(
        smtp_host=v["smtp_host"] or "",
        smtp_port=int(v["smtp_port"]),
        smtp_starttls=bool(v["smtp_starttls"]),
        smtp_username=v["smtp_username"] or "",
        smtp_from=v["smtp_from"] or "",
        smtp_to=tuple(a.strip() for a in (v["smtp_to"] or "").split(",") if a.strip()),
        webhook_url=v["webhook_url"] or "",
    )


@dataclass(frozen=True)
class Message:
    alert_id: int
    rule: str
    category: str
    severity: str
    subject: str
    raised_at: datetime
    detail: dict

    @classmethod
    def of(cls, row: dict) -> Message:
        detail = row.get("detail")
        if isinstance(detail, str):
            detail = json.loads(detail)
        return cls(
            int(row["alert_id"]),
            row["rule"],
            row["category"],
            row["severity"],
            row["subject"],
            row["raised_at"],
            detail or {},
        )

    @property
    def title(self) -> str:
        return f"[Customer 360] {self.severity} alert: {self.rule.replace('_', ' ')} — {self.subject}"

    def payload(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity,
            "subject": self.subject,
            "raised_at": self.raised_at.isoformat(timespec="seconds"),
            "detail": self.detail,
            "title": self.title,
        }


def _email(message: Message, t: Targets) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = t.smtp_from
    mail["To"] = ", ".join(t.smtp_to)
    lines = [
        message.title,
        "",
        f"Alert:    #{message.alert_id} ({message.category})",
        f"Raised:   {message.raised_at.isoformat(timespec='seconds')}",
        f"Subject:  {message.subject}",
        "",
        *(f"{k}: {v}" for k, v in sorted(message.detail.items())),
        "",
        "Acknowledge it on the Alerts page of Customer 360.",
    ]
    mail.set_content("\n".join(lines))
    return mail


def send_mail(message: Message, t: Targets) -> None:
    with smtplib.SMTP(t.smtp_host, t.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
        if t.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if t.smtp_username:
            smtp.login(t.smtp_username, config.setting("smtp_password") or "")
        smtp.send_message(_email(message, t))


def post_webhook(message: Message, t: Targets) -> None:
    body = json.dumps(message.payload(), default=str, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        t.webhook_url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - http(s) only (validated)
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(t.webhook_url, response.status, "unexpected status", response.headers, None)


def deliver(message: Message, t: Targets) -> dict[str, str]:
    """Send to every configured target; per channel "sent" or "failed: <reason>". Never raises."""
    outcome: dict[str, str] = {}
    for channel, enabled, send in (("smtp", t.smtp, send_mail), ("webhook", t.webhook, post_webhook)):
        if not enabled:
            continue
        try:
            send(message, t)
            outcome[channel] = "sent"
        except (OSError, smtplib.SMTPException, urllib.error.URLError, ValueError) as exc:
            outcome[channel] = f"failed: {type(exc).__name__}: {exc}"[:300]
    outcome["at"] = datetime.now().isoformat(timespec="seconds")
    return outcome
