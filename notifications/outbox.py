"""The outbox: every email is a row written in the same transaction as the change it
reports. Delivery reads rows, never memory, so a crash delays mail but loses none.

A row holds what to say (its template and the context to render it with); delivery renders
it, outside the transaction that wrote it, and keeps the bodies it sent."""
from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy_utc import UtcDateTime
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for a delivery pass (or for its next attempt)
    SENDING = "sending"  # claimed by a deliverer until `claimed_until`
    SENT = "sent"  # accepted by the SMTP server
    CAPTURED = "captured"  # no SMTP server configured: kept here, readable by an admin
    FAILED = "failed"  # refused too many times; `last_error` has the server's reply


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_messages"
    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # One message per event and recipient, whoever writes it and however often.
    event_key: str = Field(max_length=200, unique=True)
    message_id: str = Field(max_length=200)  # the Message-ID header, stable across retries
    template: str = Field(max_length=50)
    item_kind: str | None = Field(default=None, max_length=20)
    item_id: int | None = None
    reference: str | None = Field(default=None, max_length=20)
    to_email: str = Field(max_length=254)
    to_name: str = Field(max_length=200)
    subject: str = Field(max_length=300)
    context: dict | None = Field(default=None, sa_type=sa.JSON)  # rendered with `template` at delivery
    body_text: str | None = Field(default=None, sa_type=sa.Text)  # as sent (or captured)
    body_html: str | None = Field(default=None, sa_type=sa.Text)
    status: str = Field(default=OutboxStatus.PENDING.value, max_length=10)  # an OutboxStatus
    attempts: int = 0
    # When a retry may go (a first attempt goes at once, whatever this says).
    next_attempt_at: datetime = Field(sa_type=UtcDateTime, default_factory=_now)
    claimed_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UtcDateTime, default_factory=_now)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    attachments: int = 0  # how many files go with it (`OutboxAttachment`); most messages have none


class OutboxAttachment(SQLModel, table=True):
    """A file sent with a message (a report's PDF), written in the message's transaction and
    kept with it: a retry sends the same bytes."""

    __tablename__ = "outbox_attachments"

    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(max_length=200, index=True)  # the message's
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    content: bytes = Field(sa_type=sa.LargeBinary)


def new_message_id(mail_from: str) -> str:
    domain = mail_from.rsplit("@", 1)[-1].strip("> ") or "rso-workflow.local"
    # 128 random bits, as a uuid4 has (less its 6 fixed ones), without building a UUID: a
    # sweep makes thousands of these, and UUID() was a tenth of its CPU.
    return f"<{os.urandom(16).hex()}@{domain}>"
