"""Server-rendered SVG charts: no script, no library, readable without colour (values are printed on the bars)
and described for screen readers (role="img", a title and a description; every chart also has a table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Colour-blind-safe palette (Okabe–Ito), dark enough on white for the value labels beside the bars.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
WIDTH = 860


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def _svg(title: str, description: str, height: int, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title><desc>{escape(description)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _text(
    x: float, y: float, text: object, *, anchor: str = "start", size: int = 13, weight: str = "400"
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
        f'fill="#1f2328">{escape(str(text))}</text>'
    )


def _legend(series: Sequence[Series], y: float) -> list[str]:
    parts, x = [], 10.0
    for i, s in enumerate(series):
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>'
        )
        parts.append(_text(x + 17, y, s.name, size=12))
        x += 30 + 13 * len(s.name)
    return parts


def stacked_bars(title: str, description: str, labels: Sequence[str], series: Sequence[Series]) -> Markup:
    """Horizontal bars, one per label, stacked by series (e.g. open cases per stage, by office)."""
    if not labels:
        return empty(title, "該当するケースはありません")
    row, top, left = 30, 34, 230
    height = top + row * len(labels) + 20
    total = [sum(s.values[i] for s in series) for i in range(len(labels))]
    peak = max(max(total), 1)
    scale = (WIDTH - left - 70) / peak
    body = _legend(series, 18)
    for i, label in enumerate(labels):
        y = top + i * row
        body.append(_text(left - 8, y + 17, label, anchor="end"))
        x = float(left)
        for j, s in enumerate(series):
            width = s.values[i] * scale
            if width > 0:
                body.append(
                    f'<rect x="{x:.1f}" y="{y + 4}" width="{width:.1f}" height="{row - 10}" '
                    f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(label)} {escape(s.name)}: '
                    f"{s.values[i]:g}件</title></rect>"
                )
                x += width
        body.append(_text(x + 6, y + 17, f"{total[i]:g}件", weight="700"))
    return _svg(title, description, height, body)


def columns_with_line(
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    line: float | None = None,
    line_label: str = "",
    unit: str = "",
) -> Markup:
    """Grouped columns per label (e.g. average and 90th percentile of days per month), with a reference line
    (the 30-day limit)."""
    if not labels:
        return empty(title, "対象期間のデータはありません")
    height, top, bottom, left = 300, 30, 48, 48
    plot = height - top - bottom
    peak = max([max(s.values, default=0) for s in series] + [line or 0, 1]) * 1.15
    group = (WIDTH - left - 20) / len(labels)
    bar = max(min(group / (len(series) + 1), 38), 4)
    body = _legend(series, 18)
    body.append(f'<line x1="{left}" y1="{top + plot}" x2="{WIDTH - 10}" y2="{top + plot}" stroke="#57606a"/>')
    for i, label in enumerate(labels):
        gx = left + i * group + (group - bar * len(series)) / 2
        for j, s in enumerate(series):
            value = s.values[i]
            h = plot * value / peak
            x = gx + j * bar
            body.append(
                f'<rect x="{x:.1f}" y="{top + plot - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(label)} {escape(s.name)}: {value:g}{unit}'
                "</title></rect>"
            )
            if len(labels) <= 12:
                body.append(
                    _text(x + bar / 2 - 1, top + plot - h - 4, f"{value:g}", anchor="middle", size=11)
                )
        body.append(
            _text(left + i * group + group / 2, height - bottom + 18, label, anchor="middle", size=12)
        )
    if line is not None:
        y = top + plot - plot * line / peak
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - 10}" y2="{y:.1f}" stroke="#b42318" '
            'stroke-width="2" stroke-dasharray="6 4"/>'
        )
        body.append(_text(WIDTH - 12, y - 6, line_label, anchor="end", size=12, weight="700"))
    return _svg(title, description, height, body)


def empty(title: str, message: str) -> Markup:
    return _svg(title, message, 60, [_text(10, 36, message, size=14)])
