"""Sending over SMTP with aiosmtplib: one connection reused for many messages, a bounded
number of connections in parallel, and a result per message (never an exception that
loses track of which were accepted)."""
from __future__ import annotations

import asyncio
import base64
import binascii
import unicodedata
import uuid
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from urllib.parse import quote

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
    sender: str  # the envelope: MAIL FROM and RCPT TO
    recipient: str
    data: bytes  # the whole message, as it goes over the wire


@dataclass(frozen=True)
class Result:
    key: int
    ok: bool
    error: str | None = None
    final: bool = False  # no retry can help (the message could not even be made)


def one_line(value: str) -> str:
    """A value for a header, whatever its source: control characters (a CR or LF would start a
    header of its own) become spaces, and runs of white space one space."""
    return " ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in value).split())


def _header(name: str, value: str) -> str:
    """A header value: on one line; RFC 2047 encoded when it is not plain ASCII, folded when long."""
    value = one_line(value)
    if value.isascii() and len(value) <= 76:
        return value
    return Header(value, "utf-8", maxlinelen=76, header_name=name).encode()


def _address(name: str, email: str) -> str:
    return formataddr((one_line(name), one_line(email)), charset="utf-8")


def _qp(body: str) -> bytes:
    # Quoted-printable keeps lines short and the text readable in any client's "view source".
    return binascii.b2a_qp(body.replace("\r\n", "\n").encode("utf-8"), istext=True)


def build(*, key: int, mail_from: str, to_email: str, to_name: str, subject: str, text: str, html: str,
          message_id: str, attachments: list[tuple[str, str, bytes]] = ()) -> Outgoing:
    """The message as bytes: multipart/alternative, a plain-text part and an HTML part, both
    UTF-8 quoted-printable. Written out directly rather than through `email.message`, which
    costs milliseconds a message and would cap delivery well below the SMTP server's pace."""
    sender_name, sender = parseaddr(mail_from)
    boundary = f"=_rso_{uuid.uuid4().hex}"
    head = (f"From: {_address(sender_name, sender)}\r\n"
            f"To: {_address(to_name, to_email)}\r\n"
            f"Subject: {_header('Subject', subject)}\r\n"
            f"Message-ID: {one_line(message_id)}\r\n"
            f"Date: {formatdate(localtime=False)}\r\n"
            "Auto-Submitted: auto-generated\r\n"
            "MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n')
    part = ('--{b}\r\nContent-Type: text/{kind}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n")
    alternative = b"".join((part.format(b=boundary, kind="plain").encode("ascii"), _qp(text), b"\r\n",
                            part.format(b=boundary, kind="html").encode("ascii"), _qp(html), b"\r\n",
                            f"--{boundary}--\r\n".encode("ascii")))
    # aiosmtplib turns every bare \n into \r\n and dot-stuffs the lines as it sends.
    if not attachments:
        return Outgoing(key, sender, to_email, head.encode("ascii") + alternative)
    # With files: multipart/mixed, the two bodies first (as one alternative part), then each
    # file in base64 with its name (RFC 2231 when it is not plain ASCII).
    outer = f"=_rso_{uuid.uuid4().hex}"
    head = head.replace(f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"',
                        f'Content-Type: multipart/mixed;\r\n boundary="{outer}"')
    chunks = [head.encode("ascii"),
              f'--{outer}\r\nContent-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'.encode("ascii"),
              alternative]
    for name, content_type, content in attachments:
        chunks += [f"--{outer}\r\nContent-Type: {one_line(content_type)}\r\n"
                   f"Content-Transfer-Encoding: base64\r\n"
                   f"Content-Disposition: attachment; {_filename(name)}\r\n\r\n".encode("ascii"),
                   base64.encodebytes(content).replace(b"\n", b"\r\n")]
    chunks.append(f"--{outer}--\r\n".encode("ascii"))
    return Outgoing(key, sender, to_email, b"".join(chunks))


def _filename(name: str) -> str:
    name = one_line(name).replace('"', "'").replace("\\", "_")
    if name.isascii():
        return f'filename="{name}"'
    return f"filename*=utf-8''{quote(name, safe='')}"


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
                    await smtp.sendmail(out.sender, [out.recipient], out.data)
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
