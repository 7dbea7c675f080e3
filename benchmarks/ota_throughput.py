#!/usr/bin/env python3
"""`ruview ota` upload throughput against curl, and a throttled 50-node rollout against the ideal.

1. Throughput: one emulated node (our flavour, no throttle) and a ~1.8 MB image. In the same run
   and alternating, `ruview ota --reinstall --json` (its upload_seconds: connect .. response)
   and `curl --data-binary @image` with the same headers (its time_total) upload the image;
   after each upload the script waits until the node rebooted, passed its self-test and runs
   the exact image sent (app_sha256 = the image's SHA-256): only such verified updates count. The
   medians (and the best runs, less sensitive to a busy machine) give bytes/s for both;
   goal: ruview / curl >= 0.9.
   Also against a bare loopback sink (a separate process that reads the body in 1 MB recv()s
   and answers 200): the clients' own ceiling, which the emulated node hides.
2. Rollout: 50 nodes, each node's link throttled to 100 KB/s (the node reads the body no
   faster), firmware-like timings (1 s reboot delay, 1 s self-test), a 150 KB image, defaults
   --canary 1 --wave 25% --max-parallel 4. The single-node time is one node's update time
   (`seconds` in --json: status, upload, reboot, self-test) in a 1-node run under the same
   conditions; the ideal is ceil(50 / 4) x that; goal: total wall time / ideal <= 1.2. A node
   counts only when `ruview ota` verified it by digest ("verified": "digest"); the script
   prints how many did and fails when any did not.

Not part of the test suite. Needs curl (apt-get install curl). Run:
  python benchmarks/ota_throughput.py [--quick]
Takes about 1.5 minutes (--quick: fewer repetitions, 20 nodes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from ruview_cli.sim.appimage import build_app_image
from ruview_cli.sim.faults import NodeFaults
from ruview_cli.sim.fleet import FleetOptions, SimFleet

PSK = "bench-ota-key-0123456789"


def ruview(*args: str, env: dict) -> tuple[dict, float]:
    t0 = time.monotonic()
    r = subprocess.run([shutil.which("ruview") or "ruview", "ota", *args, "--psk", PSK, "--yes",
                        "--json"], capture_output=True, text=True, env=env, timeout=900)
    wall = time.monotonic() - t0
    if not r.stdout.strip():
        sys.exit(f"ruview ota failed: {r.stderr}")
    return json.loads(r.stdout), wall


def wait_verified(ip: str, digest: str, old_uptime: int | None = None) -> None:
    """Poll the node's /ota/status (HTTP API only) until it runs exactly `digest`, valid."""
    from ruview_cli.ota.client import NodeUnreachable, fetch_status

    deadline = time.monotonic() + 30
    restarted = old_uptime is None
    while time.monotonic() < deadline:
        try:
            st = fetch_status(ip, timeout=2.0)
        except NodeUnreachable:
            restarted = True
            st = None
        if st is not None:
            up = st.get("uptime_s")
            restarted = (restarted or (isinstance(up, int) and up < (old_uptime or 0))
                         or st.get("ota_state") == "pending_verify")  # only a new boot verifies
            if restarted and st.get("app_sha256") == digest and st.get("ota_state") == "valid":
                return
        time.sleep(0.1)  # polling a remote node
    sys.exit(f"{ip} does not run the image sent (sha256 {digest[:12]}…): not a verified update")


def curl_auth(ip: str, sha: str, length: int) -> str:
    """The Authorization header a script with curl would send (contract A when announced)."""
    from ruview_cli.ota.client import (AUTH_HMAC, bearer_authorization, fetch_nonce,
                                       fetch_status, hmac_authorization)

    if fetch_status(ip).get("auth") == AUTH_HMAC:
        return hmac_authorization(PSK, fetch_nonce(ip), sha, length)
    return bearer_authorization(PSK)


def throughput(tmp: str, env: dict, reps: int) -> None:
    curl = shutil.which("curl")
    if not curl:
        sys.exit("curl is needed for the baseline: apt-get install curl")
    fl = SimFleet(FleetOptions(nodes=1, psk=PSK, first_host=0xBB00, stream=False, pty=False,
                               mdns_interface="127.0.0.1"))
    fl.start()
    try:
        node = fl.nodes[0]
        node.ota_reboot_delay_s = 0.1
        image = build_app_image("0.9.0", size=1_800_000)
        path = os.path.join(tmp, "big.bin")
        with open(path, "wb") as fh:
            fh.write(image)
        sha = hashlib.sha256(image).hexdigest()
        from ruview_cli.ota.client import fetch_status

        ours, base = [], []
        for _ in range(reps):
            doc, _wall = ruview(path, node.ip, "--reinstall", "--allow-downgrade", env=env)
            n = doc["nodes"][0]
            if n["outcome"] != "updated" or n["verified"] != "digest":
                sys.exit(f"ruview ota: {n['outcome']} (verified: {n['verified']}): {n['message']}")
            ours.append(n["bytes_sent"] / n["upload_seconds"])
            wait_verified(node.ip, sha)
            uptime = fetch_status(node.ip).get("uptime_s")
            r = subprocess.run([curl, "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                                "--data-binary", f"@{path}", "-H", "Expect:",
                                "-H", "Content-Type: application/octet-stream",
                                "-H", f"Authorization: {curl_auth(node.ip, sha, len(image))}",
                                "-H", f"X-Image-SHA256: {sha}", f"http://{node.ip}:8032/ota"],
                               capture_output=True, text=True, timeout=120)
            code, secs = r.stdout.split()
            if code != "200":
                sys.exit(f"curl upload answered {code}")
            wait_verified(node.ip, sha, uptime if uptime is not None else 1 << 30)
            base.append(len(image) / float(secs))
        o, b = statistics.median(ours), statistics.median(base)
        print(f"upload throughput, {len(image)} B image, {reps} alternating runs each "
              f"(median / best; the emulated node's 1 KB read loop bounds both clients):")
        print(f"  ruview ota   {o / 1e6:7.2f} / {max(ours) / 1e6:6.2f} MB/s")
        print(f"  curl         {b / 1e6:7.2f} / {max(base) / 1e6:6.2f} MB/s")
        print(f"  ratio        {o / b:7.3f} / {max(ours) / max(base):6.3f}   (goal >= 0.9)")
    finally:
        fl.stop()


_SINK = r"""
import socket, sys, threading
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(8)
print(srv.getsockname()[1], flush=True)
def serve(c):
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += c.recv(65536)
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = next(int(l.split(b":")[1]) for l in head.split(b"\r\n")
             if l.lower().startswith(b"content-length"))
    got = len(rest)
    while got < n:
        d = c.recv(1 << 20)
        if not d:
            break
        got += len(d)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
              b"Connection: close\r\n\r\n{}")
    c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def client_ceiling(tmp: str, reps: int) -> None:
    from ruview_cli.ota.client import upload_image

    data = os.urandom(50_000_000)
    path = os.path.join(tmp, "sink.bin")
    with open(path, "wb") as fh:
        fh.write(data)
    sink = subprocess.Popen([sys.executable, "-c", _SINK], stdout=subprocess.PIPE, text=True)
    try:
        port = int(sink.stdout.readline())
        ours, base = [], []
        for _ in range(reps):
            r = upload_image("127.0.0.1", port, data, "Bearer k", "0" * 64)
            ours.append(len(data) / r.seconds)
            out = subprocess.run([shutil.which("curl"), "-sS", "-o", "/dev/null", "-w",
                                  "%{time_total}", "--data-binary", f"@{path}", "-H", "Expect:",
                                  f"http://127.0.0.1:{port}/ota"],
                                 capture_output=True, text=True, timeout=60).stdout
            base.append(len(data) / float(out))
    finally:
        sink.kill()
        sink.wait()
    o, b = statistics.median(ours), statistics.median(base)
    print(f"client ceiling, 50 MB to a bare loopback sink, {reps} runs each (median / best):")
    print(f"  ruview client {o / 1e6:7.0f} / {max(ours) / 1e6:5.0f} MB/s")
    print(f"  curl          {b / 1e6:7.0f} / {max(base) / 1e6:5.0f} MB/s")
    print(f"  ratio         {o / b:7.3f} / {max(ours) / max(base):5.3f}")


def rollout(tmp: str, env: dict, nodes: int, parallel: int = 4) -> None:
    opts = dict(psk=PSK, stream=False, pty=False, mdns_interface="127.0.0.1",
                faults=NodeFaults(throttle_kbps=100))
    path = os.path.join(tmp, "r.bin")
    with open(path, "wb") as fh:
        fh.write(build_app_image("0.9.1", size=150_000))
    one = SimFleet(FleetOptions(nodes=1, first_host=0xBB10, **opts))
    one.start()
    try:
        doc, _ = ruview(path, one.nodes[0].ip, env=env)
        single = doc["nodes"][0]["seconds"]
        if doc["nodes"][0]["verified"] != "digest":
            sys.exit(f"single-node update not verified by digest: {doc['nodes'][0]}")
    finally:
        one.stop()
    fl = SimFleet(FleetOptions(nodes=nodes, first_host=0xBC00, **opts))
    fl.start()
    try:
        doc, wall = ruview(path, *[n.ip for n in fl.nodes], "--max-parallel", str(parallel),
                           env=env)
        verified = sum(1 for n in doc["nodes"]
                       if n["outcome"] == "updated" and n["verified"] == "digest")
        if verified != nodes:
            sys.exit(f"only {verified} of {nodes} nodes verified by digest: "
                     f"{ {n['outcome'] for n in doc['nodes']} }")
    finally:
        fl.stop()
    ideal = math.ceil(nodes / parallel) * single
    print(f"{nodes}-node rollout, 100 KB/s per node, 150 KB image, max-parallel {parallel}, "
          f"waves {[len(w['nodes']) for w in doc['plan']]}:")
    print(f"  single node  {single:6.2f} s")
    print(f"  ideal        {ideal:6.2f} s   (ceil({nodes}/{parallel}) x single)")
    print(f"  verified     {verified} of {nodes} nodes run the exact image (digest)")
    print(f"  total        {wall:6.2f} s")
    print(f"  ratio        {wall / ideal:6.3f}   (goal <= 1.2)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, RUVIEW_INVENTORY=os.path.join(tmp, "ruview.toml"),
                   RUVIEW_OTA_JOURNAL=os.path.join(tmp, "journal.json"))
        env.pop("RUVIEW_OTA_PSK", None)
        throughput(tmp, env, 3 if args.quick else 11)
        client_ceiling(tmp, 3 if args.quick else 9)
        rollout(tmp, env, 20 if args.quick else 50)


if __name__ == "__main__":
    main()
