"""Sending over SMTP with aiosmtplib: one connection reused for many messages, a bounded
number of connections in parallel, and a result per message (never an exception that
loses track of which were accepted)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate

import aiosmtplib


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    tls: str = "none"  # none, starttls, tls
    ca_file: str | None = None  # to trust a server certified by an in-house CA
    timeout: float = 30.0


@dataclass(frozen=True)
class Outgoing:
    key: int  # the outbox row
    message: EmailMessage


@dataclass(frozen=True)
class Result:
    key: int
    ok: bool
    error: str | None = None


def build(*, mail_from: str, to_email: str, to_name: str, subject: str, text: str, html: str,
          message_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = formataddr((to_name, to_email))
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg["Date"] = formatdate(localtime=False)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def _client(cfg: SmtpConfig) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(hostname=cfg.host, port=cfg.port, use_tls=cfg.tls == "tls",
                           start_tls=True if cfg.tls == "starttls" else False, timeout=cfg.timeout,
                           username=cfg.username, password=cfg.password, cert_bundle=cfg.ca_file)


async def _send_chunk(cfg: SmtpConfig, chunk: list[Outgoing]) -> list[Result]:
    results: list[Result] = []
    try:
        async with _client(cfg) as smtp:
            for out in chunk:
                try:
                    await smtp.send_message(out.message)
                    results.append(Result(out.key, True))
                except aiosmtplib.SMTPServerDisconnected:
                    raise
                except aiosmtplib.SMTPException as exc:
                    results.append(Result(out.key, False, _reply(exc)))
    except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
        done = {r.key for r in results}
        results += [Result(o.key, False, _reply(exc)) for o in chunk if o.key not in done]
    return results


def _reply(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        message = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        return message[:1000]
    return (f"{code} {message}" if code else f"{exc.__class__.__name__}: {message}")[:1000]


async def send_all(cfg: SmtpConfig, outgoing: list[Outgoing], *, connections: int = 4) -> list[Result]:
    """Send every message; at most `connections` SMTP connections at once, each reused."""
    if not outgoing:
        return []
    n = max(1, min(connections, len(outgoing)))
    chunks = [outgoing[i::n] for i in range(n)]
    parts = await asyncio.gather(*(_send_chunk(cfg, c) for c in chunks))
    return [r for part in parts for r in part]
