"""The SVG chart helpers: scaling, empty data, escaping."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from engagement.community.members.charts import Bar, Series, bar_chart, column_chart, nice_max


@pytest.mark.parametrize("value, expected", [
    (0, 1), (-5, 1), (1, 1), (7, 10), (10, 10), (11, 20), (180, 200), (230, 250),
    (251, 500), (999, 1000), (1001, 2000), (0.3, 0.5),
])
def test_nice_max(value, expected):
    assert nice_max(value) == expected


def _rect_widths(svg: str) -> list[float]:
    return [float(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="([\d.]+)"', svg)]


def test_bar_chart_scales_bars_to_the_largest_value():
    svg = str(bar_chart([Bar("A", 100), Bar("B", 50), Bar("C", 0)], title="t", width=480,
                        label_width=130))
    widths = _rect_widths(svg)
    room = 480 - 130 - 70
    assert widths == [room, room / 2, 0]
    ET.fromstring(svg)  # well-formed XML


def test_bar_chart_with_no_bars_and_all_zero_is_valid():
    for bars in ([], [Bar("A", 0), Bar("B", 0)]):
        svg = str(bar_chart(bars, title="Empty"))
        root = ET.fromstring(svg)
        assert root.get("aria-label") == "Empty"
        assert all(w == 0 for w in _rect_widths(svg))


def test_labels_titles_and_colours_are_escaped():
    svg = str(bar_chart([Bar("<script>x</script>", 3, 'red" onload="alert(1)')],
                        title='a "quoted" <title>'))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert 'onload' not in svg  # an unsafe colour falls back to the default
    root = ET.fromstring(svg)
    assert root.get("aria-label") == 'a "quoted" <title>'
    svg2 = str(column_chart(["<b>"], [Series("S&P", [1])], title="x"))
    assert "<b>" not in svg2 and "S&amp;P" in svg2
    ET.fromstring(svg2)


def test_column_chart_heights_tooltips_and_formatting():
    svg = str(column_chart(["Jan", "Feb"], [Series("Answers", [40, 20]), Series("Acc", [0, 10])],
                           title="Activity", fmt=lambda v: f"{v:g}!", height=220, width=640))
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    rects = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.find("s:title", ns)
             is not None]
    heights = [float(r.get("height")) for r in rects]
    plot_h = 220 - 12 - 36
    # The scale maximum is nice_max(40) = 50, so 40 fills 80 % of the plot height.
    assert heights == pytest.approx([plot_h * .8, 0, plot_h * .4, plot_h * .2], abs=0.06)
    tips = [r.find("s:title", ns).text for r in rects]
    assert tips[0] == "Jan · Answers: 40!" and tips[3] == "Feb · Acc: 10!"
    assert "50!" in svg  # the top grid line shows the scale maximum
    assert "Acc" in svg  # legend for more than one series


def test_column_chart_without_data():
    svg = str(column_chart([], [], title="Nothing"))
    ET.fromstring(svg)
    assert 'role="img"' in svg
