"""`ruview doctor`'s checks: what stops discovery and flashing on this machine, each with a fix.

Every check is real (reads /proc and /sys, binds sockets, sends a datagram) and returns a
Check; none raises. Linux-specific checks are skipped elsewhere.
"""

from __future__ import annotations

import errno
import glob
import os
import socket
import time
from dataclasses import asdict, dataclass

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
MDNS_PORT = 5353
TELEMETRY_PORT = 5005
IFF_UP, IFF_LOOPBACK, IFF_MULTICAST = 0x1, 0x8, 0x1000


@dataclass
class Check:
    name: str
    status: str          # ok | warn | fail | skip
    detail: str
    fix: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


def _processes() -> dict[str, list[int]]:
    """Process name → pids, from /proc/*/comm."""
    out: dict[str, list[int]] = {}
    for path in glob.glob("/proc/[0-9]*/comm"):
        try:
            with open(path) as fh:
                name = fh.read().strip()
        except OSError:
            continue
        out.setdefault(name, []).append(int(path.split("/")[2]))
    return out


def _udp_bound_ports() -> set[int]:
    """Local ports with a bound UDP socket (/proc/net/udp)."""
    ports = set()
    try:
        with open("/proc/net/udp") as fh:
            next(fh)
            for line in fh:
                local = line.split()[1]
                ports.add(int(local.rsplit(":", 1)[1], 16))
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    return ports


def check_mdns_port() -> Check:
    responders = [n for n in ("avahi-daemon", "systemd-resolve", "mDNSResponder", "mdnsd")
                  if n in _processes()]
    taken = MDNS_PORT in _udp_bound_ports()

    def bind(reuse: bool) -> OSError | None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if reuse:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if hasattr(socket, "SO_REUSEPORT"):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(("", MDNS_PORT))
            return None
        except OSError as exc:
            return exc
        finally:
            s.close()

    shared = bind(reuse=True)
    who = ", ".join(responders) if responders else "another program"
    if shared is not None and shared.errno in (errno.EACCES, errno.EPERM):
        return Check("mdns_port", FAIL, f"not allowed to bind UDP {MDNS_PORT}: {shared.strerror}",
                     "allow it (e.g. a security policy or sandbox blocks port 5353), or use "
                     "`ruview discover --probe CIDR` / `--listen 5005` instead of mDNS")
    if shared is not None:
        return Check("mdns_port", FAIL,
                     f"UDP {MDNS_PORT} is held exclusively by {who}; zeroconf cannot share it",
                     "stop that responder (e.g. `sudo systemctl stop avahi-daemon`) or configure "
                     "it to allow port sharing; --probe/--listen work without mDNS")
    if taken or bind(reuse=False) is not None:
        return Check("mdns_port", OK,
                     f"UDP {MDNS_PORT} is shared with {who} (SO_REUSEPORT works)",
                     None)
    return Check("mdns_port", OK, f"UDP {MDNS_PORT} is free")


def _ifaces() -> list[tuple[str, str, int]]:
    """(name, IPv4, flags) of interfaces with an IPv4 address."""
    from ruview_cli.discovery.interfaces import ipv4_interfaces

    out = []
    for name, ip in ipv4_interfaces():
        flags = 0
        try:
            with open(f"/sys/class/net/{name}/flags") as fh:
                flags = int(fh.read().strip(), 16)
        except (OSError, ValueError):
            flags = IFF_UP | IFF_MULTICAST | (IFF_LOOPBACK if ip.startswith("127.") else 0)
        out.append((name, ip, flags))
    return out


def check_multicast_interface() -> Check:
    try:
        ifaces = _ifaces()
    except Exception as exc:  # ifaddr failing is itself the finding
        return Check("multicast_interface", FAIL, f"cannot list interfaces: {exc}",
                     "reinstall zeroconf/ifaddr: pip install -U zeroconf")
    usable = [(n, ip) for n, ip, f in ifaces
              if f & IFF_UP and f & IFF_MULTICAST and not f & IFF_LOOPBACK
              and not ip.startswith("127.")]
    if usable:
        names = ", ".join(f"{n} ({ip})" for n, ip in usable)
        return Check("multicast_interface", OK, f"multicast-capable: {names}")
    return Check("multicast_interface", FAIL,
                 "no network interface is up with multicast enabled (only loopback)",
                 "connect to the nodes' network (WiFi/Ethernet); `ip link set DEV multicast on` "
                 "if it is disabled; meanwhile nodes can be reached with --probe CIDR")


def check_docker() -> Check:
    in_container = os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv")
    try:
        with open("/proc/1/cgroup") as fh:
            cg = fh.read()
        in_container = in_container or any(w in cg for w in ("docker", "containerd", "kubepods"))
    except OSError:
        pass
    names = {n for n, _ip, _f in _safe_ifaces()}
    bridges = sorted(n for n in names if n == "docker0" or n.startswith(("br-", "veth")))
    if in_container:
        return Check("docker", WARN,
                     "running inside a container: with bridge networking, mDNS and node "
                     "telemetry from the LAN do not reach it",
                     "run the container with --network host, or use --probe CIDR and publish "
                     "UDP 5005 (-p 5005:5005/udp)")
    if bridges:
        return Check("docker", WARN,
                     f"Docker bridge interfaces present ({', '.join(bridges)}): mDNS on all "
                     "interfaces also browses them",
                     "pin discovery to the nodes' network: --interface ADDR or "
                     "RUVIEW_MDNS_INTERFACE=ADDR")
    return Check("docker", OK, "not in a container, no Docker bridge")


def _safe_ifaces():
    try:
        return _ifaces()
    except Exception:
        return []


def check_udp_5005(port: int = TELEMETRY_PORT, addr: str | None = None, bind: str = "") -> Check:
    """Send one datagram to `addr`:`port` and receive it on `bind`:`port`, as node telemetry
    would arrive. `addr` defaults to this machine's first non-loopback address (what the nodes
    send to); tests pass a loopback address so nothing leaves 127.0.0.0/8."""
    if addr is None:
        addrs = [ip for _n, ip, f in _safe_ifaces()
                 if not f & IFF_LOOPBACK and not ip.startswith("127.")]
        if not addrs:
            return Check("udp_5005", SKIP, "no non-loopback address to test through",
                         "connect to a network and run `ruview doctor` again")
        addr = addrs[0]
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        try:
            rx.bind((bind, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return Check("udp_5005", SKIP,
                             f"UDP {port} is in use (a receiver such as `ruview tail` runs)",
                             None)
            return Check("udp_5005", FAIL, f"cannot bind UDP {port}: {exc.strerror}",
                         "free the port or run as a user allowed to bind it")
        rx.settimeout(1.0)
        token = os.urandom(8)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(b"ruview-doctor" + token, (addr, port))
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                data, _src = rx.recvfrom(2048)
            except (socket.timeout, TimeoutError):
                break
            if data.endswith(token):
                return Check("udp_5005", OK, f"UDP {port} to {addr} arrives")
        return Check("udp_5005", FAIL,
                     f"a datagram sent to {addr}:{port} never arrived: a firewall drops it",
                     f"allow it, e.g. `sudo ufw allow {port}/udp` or "
                     f"`sudo firewall-cmd --add-port={port}/udp`")
    finally:
        rx.close()


def check_serial() -> Check:
    devices = sorted(glob.glob("/dev/ttyACM*") + glob.glob("/dev/ttyUSB*"))
    if not devices:
        return Check("serial", OK, "no USB serial device plugged in (nothing to check)")
    denied = [d for d in devices if not os.access(d, os.R_OK | os.W_OK)]
    if not denied:
        return Check("serial", OK, f"read/write access to {', '.join(devices)}")
    try:
        import grp

        group = grp.getgrgid(os.stat(denied[0]).st_gid).gr_name
    except (ImportError, KeyError, OSError):
        group = "dialout"
    return Check("serial", FAIL, f"no read/write access to {', '.join(denied)}",
                 f"add yourself to the {group} group: `sudo usermod -aG {group} $USER`, then "
                 "log out and back in")


def check_serial_hijackers() -> Check:
    procs = _processes()
    found = [n for n in ("brltty", "ModemManager") if n in procs]
    if not found:
        return Check("serial_hijackers", OK, "neither brltty nor ModemManager is running")
    fixes = {"brltty": "`sudo apt remove brltty` (it claims CH340/CP210x USB serial adapters)",
             "ModemManager": "`sudo systemctl stop ModemManager` (it probes new serial ports "
                             "and garbles flashing)"}
    return Check("serial_hijackers", WARN, f"running: {', '.join(found)}",
                 "; ".join(fixes[n] for n in found))


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for p in text.split("."):
        digits = "".join(c for c in p if c.isdigit())
        if not digits:
            break
        parts.append(int(digits))
        if not p.isdigit():
            break
    return tuple(parts)


def check_libraries() -> Check:
    from importlib.metadata import PackageNotFoundError, version

    need = {"esptool": (5, 0), "zeroconf": (0, 131), "tomlkit": (0, 12), "pyserial": (3, 5)}
    bad, have = [], []
    for pkg, minimum in need.items():
        try:
            v = version(pkg)
        except PackageNotFoundError:
            bad.append(f"{pkg} missing")
            continue
        have.append(f"{pkg} {v}")
        if _version_tuple(v) < minimum:
            bad.append(f"{pkg} {v} < {'.'.join(map(str, minimum))}")
    if bad:
        return Check("libraries", FAIL, "; ".join(bad),
                     "pip install -U " + " ".join(sorted({b.split()[0] for b in bad})))
    return Check("libraries", OK, ", ".join(have))


CHECKS = (check_mdns_port, check_multicast_interface, check_docker, check_udp_5005,
          check_serial, check_serial_hijackers, check_libraries)


def run_checks(udp_addr: str | None = None, udp_port: int = TELEMETRY_PORT) -> list[Check]:
    """Every check; `udp_addr`/`udp_port`: where check_udp_5005 sends (default: see there)."""
    out = []
    for fn in CHECKS:
        try:
            out.append(check_udp_5005(udp_port, udp_addr) if fn is check_udp_5005 else fn())
        except Exception as exc:  # a broken check is reported, never a traceback
            out.append(Check(fn.__name__.removeprefix("check_"), FAIL,
                             f"the check itself failed: {exc}", "report this as a ruview bug"))
    return out


__all__ = ["Check", "run_checks", "CHECKS", "OK", "WARN", "FAIL", "SKIP"]
