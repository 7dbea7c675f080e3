"""`ruview plot`: one panel per node, values from the data, valid PNG/SVG/HTML, a terminal plot;
matplotlib/uniplot/pyarrow loaded only by the commands that need them; the sparkline."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from ruview_cli.cli.app import app
from ruview_cli.plot.sparkline import sparkline

pytest.importorskip("matplotlib")
pytest.importorskip("uniplot")

T0 = 1_800_000_000.0
FALL_S = 150.0


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """Emulated: node 1 empty 60 s, then a person who falls at 150 s; node 2 empty 40 s, then a
    person standing; 200 s, through the firmware core as the nodes would send it."""
    from ruview_cli.sim.recording import room_frames, write_recording

    path = tmp_path_factory.mktemp("plot") / "room.pcap"
    write_recording(path, {1: room_frames(7, 60, FALL_S, 200), 2: room_frames(8, 40, None, 200)}, t0=T0)
    csv_path = path.with_suffix(".csv")
    assert CliRunner().invoke(app, ["export", str(path), "-o", str(csv_path)]).exit_code == 0
    _one_fall(csv_path, node=1, at=T0 + FALL_S)
    return path, csv_path


def _one_fall(csv_path, node: int, at: float) -> None:
    """Leave exactly one reported fall in the CSV, node 1's at the scenario's fall time. These
    tests are about what the plot shows of the data; whether the DSP reports a given fall is
    measured by benchmarks/dsp_accuracy.py (fall recall), not asserted here."""
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["fall"] = "false"
    mine = [r for r in rows if r["node_id"] == str(node)]
    min(mine, key=lambda r: abs(float(r["time"]) - at))["fall"] = "true"
    with open(csv_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _column(csv_path, node, name):
    with open(csv_path, newline="") as fh:
        return [float(r[name]) if r[name] else math.nan for r in csv.DictReader(fh) if r["node_id"] == str(node)]


def test_figure_has_a_panel_per_node_and_plots_the_csv_values(recording):
    from ruview_cli.plot.figure import vitals_figure
    from ruview_cli.plot.load import load_series

    _, csv_path = recording
    series = load_series(str(csv_path))
    fig = vitals_figure(series)
    panels = [ax for ax in fig.axes if (ax.get_gid() or "").startswith("panel-")]
    assert len(panels) == 2
    plotted = []
    for i, (s, ax) in enumerate(zip(series, panels)):
        assert ax.get_title(loc="left").startswith(f"node {s.node_id}")
        (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == f"breathing-{i}"]
        want = _column(csv_path, s.node_id, "breathing_bpm")
        got = list(line.get_ydata())
        assert len(got) == len(want) > 100
        assert all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(got, want))
        plotted += [v for v in got if not math.isnan(v)]
    assert plotted  # real rates were compared, not only gaps (a node may make no estimate at all)
    # node 1's fall is on its panel, within a few seconds of when it happened
    assert len(series[0].falls) == 1 and abs(series[0].falls[0] - (T0 + FALL_S)) < 10
    assert series[1].falls == []


def test_png_svg_html_files(recording, tmp_path):
    pcap, _ = recording
    for ext in ("png", "svg", "html"):
        out = tmp_path / f"v.{ext}"
        result = CliRunner().invoke(app, ["plot", str(pcap), "-o", str(out)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "v.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    root = ET.parse(tmp_path / "v.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    panels = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("id", "").startswith("panel-")]
    assert len(panels) == 2
    page = (tmp_path / "v.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count('id="panel-') == 2
    assert "<script" not in page and "http" not in page.split("<svg", 1)[0]


def test_node_filter_and_bad_output(recording, tmp_path):
    pcap, csv_path = recording
    result = CliRunner().invoke(app, ["plot", str(csv_path), "--node", "2", "-o", str(tmp_path / "n.svg"), "--json"])
    assert result.exit_code == 0, result.output
    root = ET.parse(tmp_path / "n.svg").getroot()
    assert sum(1 for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("id", "").startswith("panel-")) == 1
    bad = CliRunner().invoke(app, ["plot", str(pcap), "-o", str(tmp_path / "x.jpg")])
    assert bad.exit_code == 2 and ".png, .svg or .html" in bad.output


def test_terminal_plot_one_chart_per_node_with_the_fall(recording):
    _, csv_path = recording
    result = CliRunner().invoke(app, ["plot", str(csv_path), "--width", "100"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.count("node 1: present") == 1 and text.count("node 2: present") == 1
    assert "1 fall" in text and "falls at" in text
    assert "\x1b" not in text  # no colour codes when not a terminal


def test_help_imports_no_plotting_or_arrow_library():
    code = ("import sys\nfrom ruview_cli.cli.app import main\n"
            "for argv in (['ruview', '--help'], ['ruview', 'tail', '--help'], ['ruview', 'export', '--help']):\n"
            "    sys.argv = argv\n"
            "    try:\n        main()\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in ('matplotlib', 'uniplot', 'pyarrow') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_sparkline():
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([10.0, None, float("nan"), 20.0]) == "▁  █"
    assert sparkline([5, 5, 5]) == "▄▄▄"
    assert sparkline([None, None]) == "  "
    assert sparkline(range(100), width=4) == "▁▃▆█"
    assert sparkline([0, 50], lo=0, hi=100) == "▁▅"


def test_live_table_shows_the_last_minute_of_breathing(loopback):
    from ruview_cli.plot.sparkline import BLOCKS, Trend
    from ruview_cli.protocol import Vitals
    from ruview_cli.telemetry.state import FleetState
    from ruview_cli.cli._tail_table import live_table

    state, trend = FleetState(), Trend(window_s=60.0, width=12)
    addr = (loopback.addr(), 40000)
    text = ""
    for i in range(90):  # 90 s of one vitals packet per second, breathing rising 10 -> 19 BPM
        t = T0 + i
        bpm = 10.0 + i // 10 if i < 80 else 0.0  # the last 10 s: no estimate
        state.update(Vitals(3, 1, bpm, 0.0, -50, 1, 0.1, 0.9, i * 1000), addr, t)
        text = live_table(state, t, trend=trend).plain
    header, row = text.splitlines()[0], text.splitlines()[1]
    assert "breathing, last min" in header
    spark = row[header.index("breathing, last min"):][:12]
    assert spark[-1] == " "  # no estimate in the last 5+ s: a gap, not a low value
    drawn = [BLOCKS.index(c) for c in spark.rstrip()]
    assert len(drawn) == 11 and drawn == sorted(drawn) and drawn[0] < drawn[-1]
