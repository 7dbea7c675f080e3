"""Renders docs/plot-example.png: `ruview plot` of an emulated recording (run from the repo root).

Node 1: an empty room for 60 s, then a person standing still who falls at 150 s and lies there.
Node 2: another room, empty for 40 s, then a person standing still. Both through the firmware
core exactly as emulated nodes stream them (ruview_cli.sim.recording).
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from ruview_cli.sim.recording import room_frames, write_recording

with tempfile.TemporaryDirectory() as tmp:
    pcap = Path(tmp) / "two-rooms.pcap"
    write_recording(pcap, {1: room_frames(7, 60.0, 150.0, 240.0), 2: room_frames(8, 40.0, None, 240.0)},
                    t0=1_800_000_000.0)
    subprocess.run([sys.executable, "-m", "ruview_cli.cli.app", "plot", str(pcap), "-o", "docs/plot-example.png"],
                   check=True, env={"TZ": "UTC", "PATH": ""})
