#!/usr/bin/env python3
"""How long `ruview provision` takes end to end, against a bare `esptool write-flash 0x9000` of
the same NVS image on the same emulated node, as a ratio measured in one run.

The node's serial link is throttled to 460800 baud (10 bit times per byte, both directions), the
usual flashing speed of an ESP32-S3 board. Both sides are measured as the user runs them: a new
process each time (interpreter start, imports, connect, flasher stub upload, ...).

  * esptool:   python -m esptool --port URL --before no-reset write-flash 0x9000 nvs.bin
               (esptool's defaults otherwise: stub, compression, MD5 verify, hard reset)
  * provision: ruview provision --port URL --yes --vital-int N
               (connect, read the current NVS, merge, build the image with Espressif's
               generator, write, read back and compare byte for byte and by parsing, reset,
               update the inventory)
  * library:   the same call through ruview_cli.provision.provision_port in a fresh
               interpreter: shows what the command-line layer (typer, rich) adds

Goal (issue 5): ratio <= 1.6 including the read-back.
Not part of the test suite. Run: python benchmarks/provision_time.py [--rounds N] [--pty]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BAUD = 460800


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="timed runs of each (default 5)")
    ap.add_argument("--pty", action="store_true", help="use the node's pty instead of socket://")
    args = ap.parse_args()

    from ruview_cli.sim.faults import NodeFaults
    from ruview_cli.sim.fleet import FleetOptions, SimFleet

    ruview = shutil.which("ruview")
    if ruview is None:
        print("the `ruview` console script is not installed (pip install -e .)", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="ruview-bench-")
    env = dict(os.environ, RUVIEW_INVENTORY=os.path.join(work, "ruview.toml"))
    fleet = SimFleet(FleetOptions(nodes=1, stream=False, first_host=97 * 256 + 10,
                                  mdns_interface="127.0.0.1", faults=NodeFaults(serial_baud=BAUD)))
    fleet.start()
    try:
        info = fleet.describe(0)
        port = info["pty"] if args.pty else info["serial_url"]
        node = fleet.nodes[0]

        def run(cmd):
            t = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
            dt = time.perf_counter() - t
            if r.returncode != 0:
                raise SystemExit(f"{' '.join(cmd[:3])}... failed:\n{r.stdout}\n{r.stderr}")
            return dt

        # warm-up (page cache, .pyc) and the image esptool will write: what provision writes
        run([ruview, "provision", "--port", port, "--yes", "--vital-int", "1000",
             "--ota-psk", "b" * 64])
        image = os.path.join(work, "nvs.bin")
        with open(image, "wb") as fh:
            fh.write(node.flash.read(0x9000, 0x6000))
        esptool_cmd = [sys.executable, "-m", "esptool", "--port", port, "--before", "no-reset",
                       "write-flash", "0x9000", image]
        run(esptool_cmd)

        lib = [sys.executable, "-c", "import sys; from ruview_cli.provision import provision_port; "
               "provision_port(sys.argv[1], {'vital_int': int(sys.argv[2])})", port]
        t_prov, t_esp, t_lib = [], [], []
        for i in range(args.rounds):  # interleaved, so drift hits all alike
            t_esp.append(run(esptool_cmd))
            t_prov.append(run([ruview, "provision", "--port", port, "--yes",
                               "--vital-int", str(1100 + 100 * (i % 2))]))
            t_lib.append(run(lib + [str(1150 + 100 * (i % 2))]))
        p, e, lb = statistics.median(t_prov), statistics.median(t_esp), statistics.median(t_lib)
        print(f"link: {BAUD} baud over {'pty' if args.pty else 'socket://'}; {args.rounds} rounds, medians")
        print(f"  esptool write-flash 0x9000 (same image): {e:6.2f} s  (min {min(t_esp):.2f})")
        print(f"  ruview provision (read, write, read-back): {p:6.2f} s  (min {min(t_prov):.2f})")
        print(f"  the same through the library (python -c provision_port): {lb:6.2f} s  "
              f"(min {min(t_lib):.2f})")
        print(f"  ratio provision / esptool: {p / e:.2f}  (goal <= 1.6); library / esptool: "
              f"{lb / e:.2f}")
        return 0 if p / e <= 1.6 else 1
    finally:
        fleet.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
