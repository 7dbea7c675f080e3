#!/usr/bin/env python3
"""`ruview bridge` throughput: N nodes' telemetry -> bridge -> Mosquitto -> a subscriber.

Same run, same broker, same subscriber process, two publishers:
  * baseline: a bare paho-mqtt publisher sending the same number of state-sized messages at the
    same rate (what the broker + subscriber can carry at all);
  * bridge:   a sender process plays N nodes on loopback (250 node ids per source address), each
    sending one vitals and one feature packet a second; the installed `ruview bridge` receives,
    decodes, and publishes a state message per vitals packet (every packet changes the state).
The subscriber counts state messages and their latency (receipt time - the state's `ts`, the
bridge's receive time of the datagram; sender and bridge share loopback, so the datagram's own
delay is ~µs unless the bridge falls behind, which then shows as lost or late datagrams).

Then the broker is stopped while the nodes keep sending for --outage seconds: the bridge's
resident memory is sampled (it must stay bounded: state is coalesced per topic, events are
capped by --queue) and after the broker is back the latest state of every node must arrive.

Goal (issue 15): 5,000 nodes (>= 10,000 datagrams/s in), zero loss, p99 latency <= 1 s;
memory bounded while the broker is down for 60 s. Not part of the test suite.
Run: python benchmarks/bridge_throughput.py [--nodes 5000] [--seconds 10] [--outage 60] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

BROKER_HOST = "127.66.0.1"
BROKER_PORT = 1883
NODES_PER_IP = 250
BRIDGE_UDP = ("127.66.0.1", 5105)


# -- sender: python bridge_throughput.py --send NODES SECONDS ----------------------------------
def sender(nodes: int, seconds: float, first_round: int) -> None:
    from ruview_cli.protocol import FeatureVector, Vitals

    socks = []
    for i in range((nodes + NODES_PER_IP - 1) // NODES_PER_IP):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((f"127.67.{i}.1", 0))
        socks.append(s)
    t0 = time.perf_counter()
    rounds = int(seconds)
    sent = 0
    for r in range(rounds):
        k = first_round + r
        for n in range(nodes):
            s = socks[n // NODES_PER_IP]
            nid = n % NODES_PER_IP + 1
            v = Vitals(node_id=nid, flags=1, breathing_bpm=10.0 + (k % 500) / 50, heart_bpm=60.0,
                       rssi_dbm=-50, n_persons=1, motion_energy=0.1, presence_score=0.9,
                       timestamp_ms=k * 1000)
            f = FeatureVector(node_id=nid, seq=k, timestamp_us=k * 1_000_000, presence=1.0,
                              motion=0.1, breathing=0.5, heart=0.5, phase_variance=0.1,
                              persons=0.25, fall=0.0, rssi=0.5)
            s.sendto(v.encode(), BRIDGE_UDP)
            s.sendto(f.encode(), BRIDGE_UDP)
            sent += 2
            if n % 100 == 99:  # pace: spread each round over its second
                due = t0 + r + (n + 1) / nodes
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
        due = t0 + r + 1
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    print(json.dumps({"sent": sent, "elapsed": time.perf_counter() - t0}), flush=True)


# -- subscriber: python bridge_throughput.py --subscribe FILTER ---------------------------------
def subscriber(topic_filter: str) -> None:
    """Counts messages until stdin closes; prints counts and latency percentiles."""
    import threading

    import paho.mqtt.client as mqtt

    lat: list[float] = []
    count = {"state": 0, "other": 0}
    ready = threading.Event()

    def on_message(_c, _u, msg):
        now = time.time()
        if msg.topic.endswith("/state"):
            count["state"] += 1
            try:
                lat.append(now - json.loads(msg.payload)["ts"])
            except (ValueError, KeyError):
                pass
        else:
            count["other"] += 1

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    c.on_message = on_message
    c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(topic_filter, qos=0)
    c.on_subscribe = lambda *a: ready.set()
    c.connect(BROKER_HOST, BROKER_PORT, 60)
    c.loop_start()
    ready.wait(10)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "reset":
            lat.clear()
            count["state"] = count["other"] = 0
            print("ok", flush=True)
        elif line.strip() == "report":
            lat_sorted = sorted(lat)
            p = (lambda q: lat_sorted[min(len(lat_sorted) - 1, int(q * len(lat_sorted)))] if lat_sorted else None)
            print(json.dumps({**count, "p50": p(0.5), "p99": p(0.99), "max": lat_sorted[-1] if lat_sorted else None}),
                  flush=True)
    c.disconnect()
    c.loop_stop()


# -- baseline publisher: python bridge_throughput.py --baseline N SECONDS -------------------------
def baseline(nodes: int, seconds: float) -> None:
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    c.connect(BROKER_HOST, BROKER_PORT, 60)
    c.loop_start()
    t0 = time.perf_counter()
    for r in range(int(seconds)):
        for n in range(nodes):
            payload = json.dumps({"breathing_bpm": 12.5, "heart_bpm": 60.0, "presence": True, "motion": False,
                                  "n_persons": 1, "rssi": -50, "frame_rate_hz": 0.0, "firmware": None,
                                  "ts": round(time.time(), 3)}, separators=(",", ":"))
            c.publish(f"base/node-{n}/state", payload)
            if n % 100 == 99:
                delay = t0 + r + (n + 1) / nodes - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
        delay = t0 + r + 1 - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    time.sleep(0.5)
    c.disconnect()
    c.loop_stop()


# -- orchestration --------------------------------------------------------------------------------
def start_broker(workdir: str) -> subprocess.Popen:
    conf = os.path.join(workdir, "mosquitto.conf")
    user = "user root\n" if os.geteuid() == 0 else ""
    with open(conf, "w") as f:
        f.write(f"listener {BROKER_PORT} {BROKER_HOST}\nallow_anonymous true\npersistence false\n"
                f"max_queued_messages 0\n{user}log_dest none\n")
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", conf])
    for _ in range(100):
        try:
            socket.create_connection((BROKER_HOST, BROKER_PORT), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise SystemExit("mosquitto did not start")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_py(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), *args], text=True, **kw)


def ask(sub: subprocess.Popen, cmd: str) -> str:
    sub.stdin.write(cmd + "\n")
    sub.stdin.flush()
    return sub.stdout.readline()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--outage", type=float, default=60)
    ap.add_argument("--quick", action="store_true", help="1000 nodes, 5 s, 15 s outage")
    ap.add_argument("--send", nargs=3)
    ap.add_argument("--subscribe")
    ap.add_argument("--baseline", nargs=2)
    a = ap.parse_args()
    if a.send:
        return sender(int(a.send[0]), float(a.send[1]), int(a.send[2]))
    if a.subscribe:
        return subscriber(a.subscribe)
    if a.baseline:
        return baseline(int(a.baseline[0]), float(a.baseline[1]))
    if a.quick:
        a.nodes, a.seconds, a.outage = 1000, 5, 15
    ruview = shutil.which("ruview")
    if ruview is None:
        raise SystemExit("`ruview` is not installed: pip install -e .")

    work = tempfile.mkdtemp(prefix="bridge-bench-")
    broker = start_broker(work)
    rows = []
    try:
        # 1. baseline: bare publisher -> broker -> subscriber
        sub = run_py("--subscribe", "base/#", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert sub.stdout.readline().strip() == "ready"
        t = time.perf_counter()
        run_py("--baseline", str(a.nodes), str(a.seconds)).wait()
        base_elapsed = time.perf_counter() - t
        base = json.loads(ask(sub, "report"))
        sub.stdin.close()
        sub.wait()
        expected = int(a.nodes * int(a.seconds))
        rows.append(("baseline publisher", expected, base["state"], base["p99"], base_elapsed))

        # 2. the bridge
        sub = run_py("--subscribe", "ruview/+/state", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert sub.stdout.readline().strip() == "ready"
        bridge = subprocess.Popen([ruview, "bridge", f"mqtt://{BROKER_HOST}:{BROKER_PORT}", "--bind", BRIDGE_UDP[0],
                                   "--listen", str(BRIDGE_UDP[1]), "--json", "--stale-after", "3600",
                                   "--queue", "10000"], stdout=subprocess.PIPE, text=True)
        lines: list[str] = []
        connected = threading.Event()

        def drain():  # the bridge's --json log must be read, or a full pipe stalls it
            for line in bridge.stdout:
                lines.append(line)
                if '"connected"' in line:
                    connected.set()

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        connected.wait(30)
        run_py("--send", str(a.nodes), "2", "0", stdout=subprocess.DEVNULL).wait()  # warm-up: discovery
        time.sleep(2)
        ask(sub, "reset")
        t = time.perf_counter()
        snd = run_py("--send", str(a.nodes), str(a.seconds), "2", stdout=subprocess.PIPE)
        sent = json.loads(snd.stdout.readline())
        snd.wait()
        time.sleep(1.5)
        got = json.loads(ask(sub, "report"))
        bridge_elapsed = time.perf_counter() - t
        rows.append(("ruview bridge", expected, got["state"], got["p99"], bridge_elapsed))
        offered = sent["sent"] / sent["elapsed"]

        # 3. outage: broker down, nodes keep sending; memory sampled; broker back
        rss0 = rss_mb(bridge.pid)
        broker.terminate()
        broker.wait()
        sub.kill()
        samples = []
        snd = run_py("--send", str(a.nodes), str(a.outage), "100", stdout=subprocess.PIPE)
        t0 = time.time()
        while snd.poll() is None:
            samples.append((time.time() - t0, rss_mb(bridge.pid)))
            time.sleep(max(1.0, a.outage / 12))
        snd.wait()
        broker = start_broker(work)
        sub = run_py("--subscribe", "ruview/+/state", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert sub.stdout.readline().strip() == "ready"
        deadline = time.time() + 45  # reconnect back-off is at most RECONNECT_MAX_S
        after = json.loads(ask(sub, "report"))
        while after["state"] < a.nodes and time.time() < deadline:
            time.sleep(1)
            after = json.loads(ask(sub, "report"))
        back_after = time.time() - (deadline - 45)
        sub.stdin.close()
        sub.wait()
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(60)
        reader.join(10)
        summary = [json.loads(x) for x in lines if '"summary"' in x][0]
    finally:
        if broker.poll() is None:
            broker.terminate()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{a.nodes} nodes x {int(a.seconds)} s, 1 vitals + 1 feature packet per node per second "
          f"(offered {offered:,.0f} datagrams/s in)\n")
    print(f"{'publisher':<20} {'expected':>9} {'received':>9} {'loss':>7} {'msg/s':>9} {'p99 latency':>12}")
    for name, exp, rec, p99, el in rows:
        print(f"{name:<20} {exp:>9,} {rec:>9,} {100 * (1 - rec / exp):>6.2f}% {rec / a.seconds:>9,.0f} "
              f"{(f'{p99 * 1000:.0f} ms') if p99 is not None else '—':>12}")
    b, r = rows[0], rows[1]
    print(f"\nbridge / baseline delivered: {r[2] / max(1, b[2]):.3f}")
    print(f"goal: zero loss, p99 <= 1 s at >= 10,000 datagrams/s in: "
          f"{'met' if r[2] == r[1] and r[3] is not None and r[3] <= 1.0 and offered >= 10_000 else 'NOT met'}")
    grow = samples[-1][1] - samples[len(samples) // 2][1] if len(samples) > 2 else 0.0
    print(f"\nbroker down {a.outage:.0f} s: RSS {rss0:.1f} MB before, max {max(s for _, s in samples):.1f} MB, "
          f"change over the second half {grow:+.1f} MB; queued at the end {summary['queued']}, "
          f"coalesced {summary['coalesced']:,}, dropped {summary['dropped']:,}")
    print(f"after the broker came back: {after['state']:,} state messages within {back_after:.0f} s "
          f"(the latest state of every node expected: {a.nodes:,})")


if __name__ == "__main__":
    main()
