"""Forms from the services' own input models: the fields a page shows, and the JSON-shaped
data a submitted form becomes, are read off the pydantic model the service validates with.
So a page repeats no rule: the service says what is wrong, and the page shows it next to the
field it names."""
from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

from rso.web.strings import label

LONG_TEXT = 300  # a string longer than this may be is a textarea


@dataclass
class Field:
    path: str  # the form field's name and the service's error path: "budget.amount"
    name: str
    kind: str  # text, textarea, date, number, select, checkboxes, list, group
    required: bool
    options: list[tuple[str, str]] = field(default_factory=list)
    children: list["Field"] = field(default_factory=list)
    max_length: int | None = None
    id_prefix: str = ""  # unique ids when a page has several forms (one per action)

    @property
    def label(self) -> str:
        return label("field", self.name)

    @property
    def id(self) -> str:
        return "f-" + self.id_prefix + self.path.replace(".", "-")


def _unwrap(annotation) -> tuple[Any, bool]:
    """(the type, whether None is allowed), through Optional and Annotated."""
    optional = False
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation, optional


def _max_length(info) -> int | None:
    for m in info.metadata:
        if getattr(m, "max_length", None) is not None:
            return m.max_length
    return None


def fields(model: type[BaseModel], prefix: str = "", options: dict[str, list[tuple[str, str]]] | None = None,
           skip: frozenset[str] = frozenset(), id_prefix: str = "") -> list[Field]:
    """The fields of `model`, nested models as groups. `options` gives the choices of a free
    list by field name (e.g. the member states, the stakeholders)."""
    options = options or {}
    out = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        path = f"{prefix}{name}"
        typ, _ = _unwrap(info.annotation)
        required = info.is_required()
        origin = typing.get_origin(typ)
        if isinstance(typ, type) and issubclass(typ, BaseModel):
            out.append(Field(path, name, "group", required, children=fields(typ, path + ".", options, id_prefix=id_prefix)))
        elif origin is list:
            (inner,) = typing.get_args(typ)
            if isinstance(inner, type) and issubclass(inner, Enum):
                out.append(Field(path, name, "checkboxes", required, [(e.value, label("choice", e.value)) for e in inner]))
            elif name in options:
                out.append(Field(path, name, "checkboxes", required, options[name]))
            else:
                out.append(Field(path, name, "list", required))
        elif isinstance(typ, type) and issubclass(typ, Enum):
            out.append(Field(path, name, "select", required, [(e.value, label("choice", e.value)) for e in typ]))
        elif typ is date:
            out.append(Field(path, name, "date", required))
        elif typ in (Decimal, int, float):
            out.append(Field(path, name, "number", required))
        else:
            n = _max_length(info)
            out.append(Field(path, name, "textarea" if n is not None and n > LONG_TEXT else "text", required, max_length=n))
    for f in out:
        f.id_prefix = id_prefix
    return out


def offer(fs: list[Field], choices: dict[str, list[tuple[str, str | None]]]) -> list[Field]:
    """Give the fields the choices the service says they may take now: a select keeps only
    those of its options, a single value becomes a select of them, a list becomes boxes to tick
    (a label None: the value's usual words)."""
    for f in fs:
        if f.name not in choices:
            continue
        given = {value: text for value, text in choices[f.name]}
        if f.kind == "select":
            f.options = [(v, text) for v, text in f.options if v in given]
        elif f.kind in ("text", "textarea"):  # one value of a list: chosen from it
            f.kind, f.options = "select", [(v, text or label("choice", v)) for v, text in given.items()]
        else:
            f.kind, f.options = "checkboxes", [(v, text or label("choice", v)) for v, text in given.items()]
    return fs


def flat(fs: list[Field]) -> list[Field]:
    return [x for f in fs for x in ([f] if f.kind != "group" else [f, *flat(f.children)])]


# Dates are typed day month year, the RSO's own way, whatever the browser's language: a
# browser's date picker shows mm/dd/yyyy in a US locale, so the field is plain text.
_DAY_FORMATS = ("%d %B %Y", "%d %b %Y", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d %m %Y", "%Y-%m-%d")


def parse_day(text: str) -> str | None:
    """"9 April 2027", "9 Apr 2027", "09/04/2027" (day first), "2027-04-09" → ISO; None if not a date."""
    cleaned = re.sub(r"\s+", " ", text.replace(",", " ")).strip()
    cleaned = re.sub(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]* ", "", cleaned, flags=re.I)  # a weekday before it
    for fmt in _DAY_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def show_day(value) -> str:
    """An ISO date as a person reads it: "9 April 2027"; anything else as it was typed."""
    if isinstance(value, date):
        return value.strftime("%-d %B %Y")
    try:
        return date.fromisoformat(str(value)).strftime("%-d %B %Y") if value else ""
    except ValueError:
        return str(value)


DATE_MESSAGE = "give a date as day month year, e.g. 9 April 2027"


def data_from_form(fs: list[Field], form, prefix: str = "") -> dict:
    """The JSON-shaped input of a submitted form. An empty field is left out (so the
    service reports what is required); a group with nothing filled in is left out."""
    data: dict[str, Any] = {}
    for f in fs:
        key = f.path[len(prefix):] if f.path.startswith(prefix) else f.path
        if f.kind == "group":
            sub = data_from_form(f.children, form, f.path + ".")
            if sub:
                data[key] = sub
        elif f.kind == "checkboxes":
            data[key] = [v for v in form.getlist(f.path) if v]
        elif f.kind == "list":  # typed in one box, comma- or line-separated; or ticked boxes
            raw = [str(v) for v in form.getlist(f.path)]
            found = [x.strip() for v in raw for x in re.split(r"[,\n]", v) if x.strip()]
            if found:
                data[key] = found
        else:
            raw = form.get(f.path)
            if raw is not None and str(raw).strip() != "":
                data[key] = str(raw).strip() if f.kind != "textarea" else str(raw).replace("\r\n", "\n").strip()
                if f.kind == "date":  # not a date: sent as typed, and the service names the field
                    data[key] = parse_day(data[key]) or data[key]
    return data


def values_from_form(form) -> dict[str, Any]:
    """What was typed, to show again when the service refuses it."""
    return {k: (form.getlist(k) if len(form.getlist(k)) > 1 else form.get(k)) for k in form.keys()}


def values_from_item(item: dict, prefix: str = "") -> dict[str, Any]:
    """An item's current values as form values (for an edit or a resubmission)."""
    out: dict[str, Any] = {}
    for k, v in item.items():
        if isinstance(v, dict):
            out.update(values_from_item(v, f"{prefix}{k}."))
        elif isinstance(v, list):
            out[f"{prefix}{k}"] = [str(x) for x in v]
        elif v is not None:
            out[f"{prefix}{k}"] = str(v)
    return out


def errors_by_field(errors: list[dict], fs: list[Field], prefix: str = "") -> tuple[dict[str, list[str]], list[str]]:
    """The service's messages next to the fields they name; the rest for the top of the form."""
    known = {f.path for f in flat(fs)}
    dates = {f.path for f in flat(fs) if f.kind == "date"}
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for e in errors:
        path = prefix + e["field"] if e["field"] not in ("body", "") else ""
        message = re.sub(r"^(Value|Assertion) error, ", "", e["message"])
        while path and path not in known and re.search(r"\.\d+$", path):
            path = re.sub(r"\.\d+$", "", path)
        if path in dates and ("valid date" in message or "date" in e.get("type", "")):
            message = DATE_MESSAGE
        if path in known:
            by_field.setdefault(path, []).append(message)
        else:
            general.append(message if not path else f"{label('field', path.split('.')[-1])}: {message}")
    return by_field, general
