"""Reading the Mermaid text a lifecycle draws: which state is marked, which arrows are drawn."""
from __future__ import annotations

import re

ACTIVE = re.compile(r"^\s*class (\w+) s_active\s*$", re.MULTILINE)
EDGE = re.compile(r"^\s*(\w+) --> (\w+): (.+?)\s*$", re.MULTILINE)


def drawn_edges(text: str) -> set[tuple[str, str, str]]:
    """Every arrow as (from, to, action); a line labelled "a | b" is two arrows."""
    edges = set()
    for source, dest, labels in EDGE.findall(text):
        for label in labels.split("|"):
            edges.add((source, dest, label.replace("[internal]", "").strip()))
    return edges
