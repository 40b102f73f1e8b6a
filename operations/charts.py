"""Charts drawn as SVG on the server: geometry here, markup in templates/admin/operations/.

No JavaScript and no CDN: the page's Content-Security-Policy allows neither, and a
server-drawn chart is readable in a test. Colours come from classes in
static/css/operations.css.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH, HEIGHT = 720, 220
LEFT, BOTTOM, TOP = 56, 28, 10


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[dict] = field(default_factory=list)    # x, y, w, h, css, title
    lines: list[dict] = field(default_factory=list)   # points, css, name
    y_ticks: list[dict] = field(default_factory=list)  # y, label
    x_labels: list[dict] = field(default_factory=list)  # x, label
    legend: list[dict] = field(default_factory=list)   # css, name
    markers: list[dict] = field(default_factory=list)  # x, label (vertical lines)

    @property
    def plot_bottom(self) -> int:
        return self.height - BOTTOM

    @property
    def left(self) -> int:
        return LEFT


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def _y_ticks(top: float, fmt, plot_h: float, count: int = 4) -> list[dict]:
    return [{"y": round(TOP + plot_h - plot_h * i / count, 1), "label": fmt(top * i / count)}
            for i in range(count + 1)]


def stacked_bars(columns: list[tuple[str, dict[str, float]]], order: list[str],
                 fmt=lambda v: f"{v:g}", label_every: int = 1) -> Chart:
    """One bar per column, its parts stacked in ``order`` (each part's css is its name)."""
    chart = Chart(legend=[{"css": name, "name": name} for name in order])
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    top = _nice_max(max((sum(parts.values()) for _, parts in columns), default=0))
    slot = plot_w / max(len(columns), 1)
    for i, (label, parts) in enumerate(columns):
        x, base = LEFT + i * slot + slot * 0.1, TOP + plot_h
        for name in order:
            value = parts.get(name, 0)
            if value:
                h = plot_h * value / top
                base -= h
                chart.bars.append({"x": round(x, 1), "y": round(base, 1),
                                   "w": round(slot * 0.8, 1), "h": round(h, 1),
                                   "css": name, "title": f"{label}: {fmt(value)} {name}"})
        if i % label_every == 0:
            chart.x_labels.append({"x": round(x + slot * 0.4, 1), "label": label})
    chart.y_ticks = _y_ticks(top, fmt, plot_h)
    return chart


def lines(xs: list[float], series: dict[str, list[float]], fmt=lambda v: f"{v:g}",
          x_fmt=lambda v: f"{v:g}", markers: list[tuple[float, str]] = ()) -> Chart:
    """Line per series over shared x values (css is the series' position: line0, line1...)."""
    chart = Chart()
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    x_max = max(xs) if xs else 1
    top = _nice_max(max((max(ys) for ys in series.values() if ys), default=0))

    def px(x):
        return round(LEFT + plot_w * x / x_max, 1)

    def py(y):
        return round(TOP + plot_h - plot_h * y / top, 1)

    for n, (name, ys) in enumerate(series.items()):
        css = f"line{n}"
        chart.lines.append({"css": css, "name": name,
                            "points": " ".join(f"{px(x)},{py(y)}" for x, y in zip(xs, ys,
                                                                                    strict=True))})
        chart.legend.append({"css": css, "name": name})
    chart.y_ticks = _y_ticks(top, fmt, plot_h)
    step = max(1, len(xs) // 6)
    chart.x_labels = [{"x": px(x), "label": x_fmt(x)} for x in xs[::step]]
    chart.markers = [{"x": px(x), "label": label} for x, label in markers if 0 <= x <= x_max]
    return chart
