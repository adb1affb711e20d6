"""Settings from the environment (and an optional .env), all prefixed RSO_: read by every entry
point (the API, the command line, the Prefect flows) through `services.wiring`."""
from __future__ import annotations

import os
import secrets
import time
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.config.calendar import BusinessCalendar
from services.config.policy import load_policy
from services.infra.db import is_sqlite, make_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RSO_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///rso.db"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str | None = None
    token_minutes: int = 8 * 60
    mail_from: str = "RSO Workflow <workflow@rso.baliprocess.net>"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_ca_file: str | None = None
    timezone: str = "Asia/Bangkok"
    calendar: str = "TH"
    deadlines_file: str | None = None  # the timing policy (TOML); default services/config/data/deadlines.toml
    max_body_bytes: int = 256 * 1024
    # Documents: where their files are kept (default: a folder `documents` beside the SQLite
    # file, or in the working directory), and the largest file accepted, in MB.
    storage_dir: str | None = None
    max_upload_mb: int = Field(default=20, ge=1, le=1024)
    # The running service delivers the outbox itself, within seconds of each commit.
    deliver_in_background: bool = True
    # Unset: the real time. Set (ISO 8601 with an offset), the service's clock starts at this
    # moment and runs on from it: to try a deployment, train people or test as of another day.
    now: datetime | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{v}'") from None
        return v

    @field_validator("calendar")
    @classmethod
    def _calendar(cls, v: str) -> str:
        return BusinessCalendar(v).country  # ValueError naming the unknown code

    @field_validator("deadlines_file")
    @classmethod
    def _deadlines(cls, v: str | None) -> str | None:
        load_policy(v)  # PolicyError (a ValueError) naming the file, the line and the reason
        return v

    @field_validator("secret_key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        # Tokens are HMAC-SHA256: a key shorter than the hash is guessable. `openssl rand -base64 48`.
        if v is not None and len(v.encode()) < 32:
            raise ValueError("RSO_SECRET_KEY must be at least 32 bytes (e.g. `openssl rand -base64 48`)")
        return v

    @field_validator("now")
    @classmethod
    def _now(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("give a time zone offset, e.g. 2027-04-09T09:00+07:00")
        return v

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str) -> str:
        try:
            is_sqlite(v)
        except Exception as exc:  # noqa: BLE001 - any parse failure is the same user error
            raise ValueError(str(exc)) from None
        return v

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def storage_path(self) -> Path:
        if self.storage_dir:
            return Path(self.storage_dir)
        db = make_url(self.database_url).database if is_sqlite(self.database_url) else None
        if db and db != ":memory:":
            return Path(db).with_name("documents").absolute()
        return Path("documents").absolute()

    def signing_key(self) -> str:
        """RSO_SECRET_KEY, or on the embedded default a key kept beside the SQLite file,
        so tokens survive a restart without any set-up."""
        if self.secret_key:
            return self.secret_key
        if not is_sqlite(self.database_url):
            raise RuntimeError("RSO_SECRET_KEY must be set when the database is PostgreSQL")
        db = make_url(self.database_url).database or "rso.db"
        path = Path(db).with_name(".rso_secret_key") if db != ":memory:" else None
        if path is None:
            return secrets.token_urlsafe(48)
        try:  # created once, atomically: workers starting together agree on one key
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
        for _ in range(50):  # another worker may be half-way through writing it
            if key := path.read_text().strip():
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty: delete it and start again")
