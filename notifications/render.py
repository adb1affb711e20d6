"""Rendering: every email has a plain-text and an HTML part from Jinja2 templates sharing one
base layout. StrictUndefined: a template that names a missing value fails loudly in tests,
not silently in someone's inbox."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")


@cache
def environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                       autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
                       trim_blocks=True, keep_trailing_newline=True)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(template: str, *, subject: str, **context) -> Rendered:
    """Render `template`.txt.j2 and `template`.html.j2 with the same context."""
    env = environment()
    context = {"subject": subject, **context}
    return Rendered(subject=subject,
                    text=env.get_template(f"{template}.txt.j2").render(context),
                    html=env.get_template(f"{template}.html.j2").render(context))


def template_names() -> list[str]:
    return sorted({p.name.split(".")[0] for p in TEMPLATES.glob("*.txt.j2")} - {"base"})
