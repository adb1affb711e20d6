"""The timing policy: due dates, reminders and escalations per task kind, and the secondment
timers, from one TOML file (`services/config/data/deadlines.toml` unless `RSO_DEADLINES_FILE` names
another). A file that does not read or does not validate stops the service at start-up with
the line and the reason."""
from __future__ import annotations

import re
import tomllib
from enum import StrEnum
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.engine.tasks import TaskKind

DEFAULT_FILE = Path(__file__).with_name("data") / "deadlines.toml"


class PolicyError(ValueError):
    pass


class EscalateTo(StrEnum):
    CO_CHAIRS = "co_chairs"
    CO_MANAGERS = "co_managers"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskPolicy(_Strict):
    due_business_days: int | None = Field(default=None, ge=1, le=120)
    due_business_days_after_end: int | None = Field(default=None, ge=0, le=120)
    remind_business_days_before: tuple[int, ...] = ()
    escalate_business_days_after: int | None = Field(default=None, ge=0, le=120)
    escalate_every_business_days: int | None = Field(default=None, ge=1, le=120)
    escalate_to: EscalateTo | None = None
    auto_close_business_days_after: int | None = Field(default=None, ge=0, le=120)

    @model_validator(mode="after")
    def _consistent(self):
        if (self.due_business_days is None) == (self.due_business_days_after_end is None):
            raise ValueError("give exactly one of due_business_days and due_business_days_after_end")
        if any(not 0 <= d <= 60 for d in self.remind_business_days_before):
            raise ValueError("remind_business_days_before: each from 0 (the due date) to 60")
        if (self.escalate_business_days_after is None) != (self.escalate_to is None):
            raise ValueError("escalate_business_days_after and escalate_to go together")
        if self.escalate_every_business_days and self.escalate_business_days_after is None:
            raise ValueError("escalate_every_business_days needs escalate_business_days_after")
        return self


class SecondmentPolicy(_Strict):
    ask_about_extension_days_before_end: int = Field(ge=1, le=365)
    begin_handover_days_before_end: int = Field(ge=0, le=365)
    checklist_reminder_days_before_start: int = Field(ge=1, le=365)
    checklist_escalation_on_start: bool = True

    @model_validator(mode="after")
    def _order(self):
        if self.ask_about_extension_days_before_end <= self.begin_handover_days_before_end:
            raise ValueError("ask_about_extension_days_before_end must come before begin_handover_days_before_end")
        return self


class Policy(_Strict):
    notice_hour: int = Field(default=8, ge=0, le=23)
    tasks: dict[str, TaskPolicy]
    secondment: SecondmentPolicy

    @model_validator(mode="after")
    def _every_kind(self):
        missing = [k.value for k in TaskKind if k.value not in self.tasks]
        unknown = [k for k in self.tasks if k not in set(TaskKind)]
        if missing or unknown:
            raise ValueError("; ".join(
                ([f"missing [tasks.{k}]" for k in missing]) + [f"unknown task kind [tasks.{k}]" for k in unknown]))
        return self

    def task(self, kind: str) -> TaskPolicy:
        return self.tasks[kind]


_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\s]+?)\s*\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def _lines(text: str) -> dict[tuple[str, ...], int]:
    """Where each table and key is defined: ("tasks", "review", "due_business_days") -> line."""
    where: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for n, line in enumerate(text.splitlines(), 1):
        if m := _TABLE.match(line):
            table = tuple(p.strip() for p in m.group(1).split("."))
            where.setdefault(table, n)
        elif m := _KEY.match(line):
            where.setdefault((*table, m.group(1)), n)
    return where


def parse_policy(text: str, source: str = "deadlines.toml") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: {exc}") from None
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        where = _lines(text)
        problems = []
        for e in exc.errors(include_url=False):
            loc = tuple(str(p) for p in e["loc"])
            line = next((where[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in where), None)
            msg = "unknown setting" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
            problems.append(f"{source}{f' line {line}' if line else ''}: {'.'.join(loc) or 'file'}: {msg}")
        raise PolicyError("; ".join(problems)) from None


@cache
def load_policy(path: str | Path | None = None) -> Policy:
    p = Path(path) if path else DEFAULT_FILE
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read the deadlines file {p}: {exc.strerror}") from None
    return parse_policy(text, str(p))
