"""Charts as SVG, drawn here on the server: no script, no CDN. Each scales to the width it is
given (a viewBox, width 100%), so it reads on a phone; its numbers are in a table beside it
(the page's), and the SVG itself says what it shows (role="img", a title and a description)."""
from __future__ import annotations

from markupsafe import Markup, escape

WIDTH = 420  # viewBox units: at a phone's 360 px the text stays near its size
PALETTE = ("#0b3d6e", "#d0781a", "#2e7d32", "#8e24aa", "#a4000f")  # distinguishable, dark enough on white


def _fmt(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) else f"{v:,}"


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000):
        if v <= step:
            return step
    return v


def _svg(title: str, desc: str, height: float, body: list[str], cid: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" role="img" '
        f'aria-labelledby="{cid}-t {cid}-d" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{cid}-t">{escape(title)}</title><desc id="{cid}-d">{escape(desc)}</desc>'
        f'<style>text{{font:16px system-ui,sans-serif;fill:#1a1a1a}}.ax{{stroke:#c8ccd2}}.v{{font-weight:600}}</style>'
        + "".join(body) + "</svg>")


def _legend(series: list[tuple[str, list[float]]], y: float) -> tuple[list[str], float]:
    out, x = [], 0.0
    for i, (name, _) in enumerate(series):
        w = 24 + 8.8 * len(name)
        if x + w > WIDTH:
            x, y = 0.0, y + 22
        out.append(f'<rect x="{x:.0f}" y="{y - 12:.0f}" width="14" height="14" fill="{PALETTE[i % len(PALETTE)]}"/>'
                   f'<text x="{x + 19:.0f}" y="{y:.0f}">{escape(name)}</text>')
        x += w + 14
    return out, y + 14


def bars(cid: str, title: str, labels: list[str], series: list[tuple[str, list[float]]], *,
         unit: str = "") -> Markup:
    """Horizontal bars, one row per label; several series stack (with a legend), each row's
    total printed at its end. Long labels get a line of their own above the bar."""
    if not labels:
        return Markup("")
    legend, top = _legend(series, 16) if len(series) > 1 else ([], 0)
    row_h, bar_h, left = 50, 18, 0
    totals = [sum(s[1][i] or 0 for s in series) for i in range(len(labels))]
    top_value = _nice_max(max(totals) if totals else 0)
    span = WIDTH - 60
    body = list(legend)
    y = top + 8
    for i, lbl in enumerate(labels):
        body.append(f'<text x="0" y="{y + 16:.0f}">{escape(lbl)}</text>')
        x = float(left)
        for j, (name, values) in enumerate(series):
            v = values[i] or 0
            w = span * v / top_value
            if w > 0:
                body.append(f'<rect x="{x:.1f}" y="{y + 24:.0f}" width="{w:.1f}" height="{bar_h}" '
                            f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(lbl)}, {escape(name)}: '
                            f'{_fmt(v)}{escape(unit)}</title></rect>')
            x += w
        body.append(f'<text class="v" x="{x + 6:.1f}" y="{y + 38:.0f}">{_fmt(totals[i])}{escape(unit)}</text>')
        y += row_h
    desc = "; ".join(f"{lbl}: {_fmt(tot)}{unit}" for lbl, tot in zip(labels, totals))
    return _svg(title, desc, y + 4, body, cid)


def columns(cid: str, title: str, labels: list[str], series: list[tuple[str, list[float]]]) -> Markup:
    """Grouped columns, one group per label (months), a bar per series, with a legend and a
    scale; the labels below, turned when there are many."""
    if not labels:
        return Markup("")
    legend, top = _legend(series, 16)
    top += 10
    plot_h, left, bottom_pad = 180, 56, 62
    # A scale of four steps in whole numbers: these charts count things.
    highest = max((v or 0) for _, vs in series for v in vs) if series else 0
    top_value = next((t for t in (4, 8, 20, 40, 100, 200, 400, 1000, 2000, 4000, 10000, 20000, 40000, 100000)
                      if highest <= t), highest)
    group_w = (WIDTH - left) / len(labels)
    bar_w = min(18.0, (group_w - 6) / max(1, len(series)))
    body = list(legend)
    for k in range(5):  # the scale
        v = top_value * k / 4
        y = top + plot_h - plot_h * k / 4
        body.append(f'<line class="ax" x1="{left}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}"/>'
                    f'<text x="{left - 4}" y="{y + 5:.1f}" text-anchor="end">{_fmt(int(v))}</text>')
    for i, lbl in enumerate(labels):
        gx = left + i * group_w + (group_w - bar_w * len(series)) / 2
        for j, (name, values) in enumerate(series):
            v = values[i] or 0
            h = plot_h * v / top_value
            body.append(f'<rect x="{gx + j * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
                        f'height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(lbl)}, {escape(name)}: '
                        f'{_fmt(v)}</title></rect>')
        cx, cy = left + i * group_w + group_w / 2, top + plot_h + 16
        body.append(f'<text x="{cx:.1f}" y="{cy:.1f}" text-anchor="end" transform="rotate(-40 {cx:.1f} {cy:.1f})">'
                    f'{escape(lbl)}</text>')
    desc = "; ".join(f"{lbl}: " + ", ".join(f"{n} {_fmt(vs[i] or 0)}" for n, vs in series) for i, lbl in enumerate(labels))
    return _svg(title, desc, top + plot_h + bottom_pad, body, cid)
