"""Synthetic WiFi CSI scenarios: the bytes an ESP32-S3 would report for a room, with ground truth.

Used by the simulator (what an emulated node streams, through the firmware core) and by
benchmarks/dsp_accuracy.py (how well that core measures what really happened). The physics and
the receiver impairments live in ruview_cli.sim.channel (static multipath, body reflections,
CFO/STO, AGC steps, noise, int8, the ESP32 layout), the people in ruview_cli.sim.body
(breathing, heartbeat, sway, walking, sitting down, bending, falling); this module plans what
the people do, times the frames and answers what really happened at any time.

Frame timing (ESP32 CSI arrives with the traffic that carries it, not on a clock): a nominal rate
with +-1 % clock drift, Gaussian timestamp jitter (10 % of the period rms, within +-40 %), 5 %
of frames dropped at random, and occasional 0.2-1 s gaps (interference, AP pauses).

Deterministic for a seed; ground truth (`truth(t)`) is a pure function of time, and asking for
it never changes the frames.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ruview_cli.sim import body as B
from ruview_cli.sim.channel import C_LIGHT, OFFSETS, Receiver, Room, channel_freq_mhz

BOOT_US = 3_900_000  # frame timestamps start after the node's 3.9 s boot
WINDOW_S = B.WINDOW_S
HORIZON_S = 6 * 3600.0  # activity plans cover this much scenario time
_BLOCK = 32  # frames synthesised per numpy block
USED = (OFFSETS != 0) & (np.abs(OFFSETS) < 27)  # the L-LTF's data/pilot subcarriers


@dataclass(frozen=True, slots=True)
class Truth:
    """What really happened at scenario time t (seconds since the first frame)."""

    t: float
    persons: int  # people in the room
    presence: bool
    motion: bool  # someone walking, sitting down, bending or falling
    breathing_bpm: tuple[float, ...]  # per person who is still (standing/sitting/lying)
    heart_bpm: tuple[float, ...]
    falls: tuple[float, ...]  # fall onset times <= t


@dataclass(frozen=True, slots=True)
class Frame:
    """One CSI callback: the arguments of _edge.EdgePipeline.process, plus scenario time."""

    iq: bytes
    rssi: int
    channel: int
    timestamp_us: int
    noise_floor: int
    t: float


# -------------------------------------------------------------------------- activity plans ---


def _plan_still(room: Room, posture: str = B.STAND, enter_s: float = 0.0) -> Callable:
    """Away until enter_s, walk in through the door to the spot (sit down there if seated);
    enter_s <= 0: in the room from the start."""

    def plan(p: B.Person, rng: random.Random) -> list[B.Segment]:
        segs: list[B.Segment] = []
        t = 0.0
        if enter_s > 0.0:
            segs.append(B.Segment(0.0, enter_s, B.AWAY, room.door, 0.0))
            segs.append(p.walk(enter_s, [room.door, (room.door[0], room.depth - 0.5), p.spot], fade=1))
            t = segs[-1].t1
            if posture == B.SIT:
                segs.append(B.Segment(t, t + rng.uniform(1.5, 3.0), B.SIT_DOWN, p.spot, segs[-1].heading))
                t = segs[-1].t1
        heading = segs[-1].heading if segs else rng.uniform(0, 2 * math.pi)
        segs.append(B.Segment(t, HORIZON_S, posture, p.spot, heading))
        return segs

    return plan


def _plan_walking(room: Room) -> Callable:
    def plan(p: B.Person, rng: random.Random) -> list[B.Segment]:
        pts = [p.spot]
        length = 0.0
        while length < HORIZON_S * p.speed:
            pts.append(room.random_waypoint(rng))
            length += math.dist(pts[-2], pts[-1])
        return [p.walk(0.0, pts)]

    return plan


def _bend(t: float, pos, heading: float, rng: random.Random) -> B.Segment:
    hold = rng.uniform(1.0, 4.0)
    return B.Segment(t, t + 2 * rng.uniform(1.0, 2.0) + hold, B.BEND, pos, heading,
                     hold=hold, angle=math.radians(rng.uniform(50.0, 90.0)))


def _plan_daily(room: Room) -> Callable:
    """Activities of daily living, no falls: stand 10-40 s, then walk 4-20 s to a new spot, sit
    down (1.5-3 s) for 10-60 s and stand up, or bend over (to pick something up) and back."""

    def plan(p: B.Person, rng: random.Random) -> list[B.Segment]:
        segs: list[B.Segment] = []
        t, pos, heading = 0.0, p.spot, rng.uniform(0, 2 * math.pi)
        while t < HORIZON_S:
            segs.append(B.Segment(t, t + rng.uniform(10.0, 40.0), B.STAND, pos, heading))
            t = segs[-1].t1
            what = rng.random()
            if what < 0.45:
                pts = [pos, room.random_waypoint(rng)]
                while sum(math.dist(a, b) for a, b in zip(pts, pts[1:])) / p.speed < rng.uniform(4.0, 20.0):
                    pts.append(room.random_waypoint(rng))
                segs.append(p.walk(t, pts))
                pos, heading = pts[-1], segs[-1].heading
            elif what < 0.75:
                segs.append(B.Segment(t, t + rng.uniform(1.5, 3.0), B.SIT_DOWN, pos, heading))
                segs.append(B.Segment(segs[-1].t1, segs[-1].t1 + rng.uniform(10.0, 60.0), B.SIT, pos, heading))
                segs.append(B.Segment(segs[-1].t1, segs[-1].t1 + rng.uniform(1.5, 3.0), B.STAND_UP, pos, heading))
            else:
                segs.append(_bend(t, pos, heading, rng))
            t = segs[-1].t1
        return segs

    return plan


def _plan_fall(room: Room, fall_at: float, before: str, walk_s: float) -> Callable:
    """Stand still until fall_at (before="stand"), or stand and then walk for the last walk_s
    seconds (before="walk"); topple to the floor; lie there breathing."""

    def plan(p: B.Person, rng: random.Random) -> list[B.Segment]:
        segs: list[B.Segment] = []
        heading = rng.uniform(0, 2 * math.pi)
        pos = p.spot
        if before == "walk":
            t_walk = max(0.0, fall_at - walk_s)
            if t_walk > 0:
                segs.append(B.Segment(0.0, t_walk, B.STAND, pos, heading))
            pts = [pos, room.random_waypoint(rng)]
            w = p.walk(t_walk, pts)
            while w.t1 < fall_at:
                pts.append(room.random_waypoint(rng))
                w = p.walk(t_walk, pts)
            # cut the walk at fall_at
            wt = np.asarray(w.times)
            wp = np.asarray(w.waypoints)
            i = int(np.searchsorted(wt, fall_at, side="right") - 1)
            here = (float(np.interp(fall_at, wt, wp[:, 0])), float(np.interp(fall_at, wt, wp[:, 1])))
            w = p.walk(t_walk, [tuple(x) for x in wp[: i + 1]] + [here])
            segs.append(w)
            pos, heading = here, w.heading
            theta0 = math.radians(rng.uniform(10.0, 20.0))  # a trip: already pitched forward
        else:
            segs.append(B.Segment(0.0, fall_at, B.STAND, pos, heading))
            theta0 = math.radians(rng.uniform(4.0, 12.0))  # a faint / loss of balance
        curve = B.topple_profile(theta0)
        segs.append(B.Segment(fall_at, fall_at + float(curve[0][-1]), B.FALL, pos, heading, angle=theta0, curve=curve))
        segs.append(B.Segment(segs[-1].t1, HORIZON_S, B.LIE, pos, heading))
        return segs

    return plan


def _plan_enter_leave(room: Room, first_entry: float, stay_s: float, away_s: float) -> Callable:
    """Empty until first_entry; walk in through the door, stay still stay_s, walk out, stay away
    away_s, repeat."""

    def plan(p: B.Person, rng: random.Random) -> list[B.Segment]:
        segs = [B.Segment(0.0, first_entry, B.AWAY, room.door, 0.0)]
        inside = (room.door[0], room.depth - 0.5)
        while segs[-1].t1 < HORIZON_S:
            spot = room.random_spot(rng)
            enter = p.walk(segs[-1].t1, [room.door, inside, spot], fade=1)
            stay = B.Segment(enter.t1, enter.t1 + stay_s, B.STAND, spot, enter.heading)
            leave = p.walk(stay.t1, [spot, inside, room.door], fade=-1)
            away = B.Segment(leave.t1, leave.t1 + away_s, B.AWAY, room.door, 0.0)
            segs += [enter, stay, leave, away]
        return segs

    return plan


# ------------------------------------------------------------------------------- scenario ---


class Scenario:
    """A room with some persons, producing ESP32-like CSI frames (ruview_cli.sim.channel)."""

    def __init__(self, name: str, room: Room, persons: list[B.Person], rng: random.Random, *,
                 rate_hz: float = 28.5, n_subcarriers: int = 64, channel: int = 5,
                 snr_db: float = 25.0, rssi_dbm: float = -55.0, noise_floor: int = -95,
                 loss: float = 0.05, gap_prob: float = 0.0005, agc: float = 1.0,
                 body_db: list[float] | None = None, seed: int | None = None,
                 params: dict | None = None):
        if not 1.0 <= rate_hz <= 200.0:
            raise ValueError(f"rate_hz={rate_hz} out of range: valid 1..200 Hz")
        if n_subcarriers not in (64, 128, 192):
            raise ValueError(f"n_subcarriers={n_subcarriers}: ESP32-S3 reports 64, 128 or 192")
        if not 0.0 <= loss < 1.0:
            raise ValueError(f"loss={loss}: a fraction 0..1")
        self.name = name
        self.seed = seed
        self.params = dict(params or {})
        self.room = room
        self.persons = persons
        self.rng = rng
        self.rate_hz = rate_hz
        self.n_subcarriers = n_subcarriers
        self.channel = channel
        self.noise_floor = noise_floor
        self.rssi_dbm = rssi_dbm
        self.loss = loss
        self.gap_prob = gap_prob
        self.snr_db = snr_db
        self.period_s = (1.0 / rate_hz) * (1.0 + rng.uniform(-0.01, 0.01))  # clock drift
        self.receiver = Receiver(rng, n_subcarriers, snr_db, bool(agc))
        # body reflection strength below the static channel, per person (dB)
        self.body_db = list(body_db) if body_db else [rng.uniform(-22.0, -8.0) for _ in persons]
        self._bodies = []
        for p, db in zip(persons, self.body_db):
            phases = np.array([rng.uniform(0, 2 * math.pi) for _ in range(B.N_POINTS)])
            # scale: the standing body at its spot reflects db below the static channel
            # the points add coherently (their paths differ by far less than c / 20 MHz), so
            # the scale comes from the body's own response across the band where it stands
            spot_t = np.array([next((s.t0 for s in p.segments if s.kind in B.STILL_KINDS), 0.0)])
            P, N, _ = p.points(spot_t)
            L, spread = room.paths(P, N, np.zeros((1, B.N_POINTS)))
            amp = np.sqrt(B.RCS) * spread[0] * np.exp(1j * phases)
            resp = (amp[:, None] * np.exp(-2j * np.pi * room.freqs[None, :] * L[0][:, None] / C_LIGHT)).sum(0)
            power = float(np.mean(np.abs(resp[USED]) ** 2))
            g = math.sqrt(10.0 ** (db / 10.0) / power) * np.sqrt(B.RCS)
            self._bodies.append((p, g, phases))
        self._n = 0  # nominal frame index
        self._skip = 0
        self._queue: list[Frame] = []

    # ---- physics ----
    def true_channel(self, times: np.ndarray) -> np.ndarray:
        """The channel (T, 64) before the receiver at offsets -32..31."""
        bodies = []
        for p, g, phases in self._bodies:
            P, N, vis = p.points(times)
            bodies.append((P, N, p.chest(times), vis, g, phases))
        return self.room.channel(bodies, times)

    def static_ripple_db(self) -> float:
        """Max/min |H| of the empty room across the band (its frequency selectivity)."""
        return self.room.ripple_db()

    # ---- frames ----
    def _next_time(self) -> float:
        rng = self.rng
        while True:
            self._n += 1
            if self._skip > 0:
                self._skip -= 1
                continue
            if rng.random() < self.gap_prob:  # an interference burst / AP pause
                self._skip = int(rng.uniform(0.2, 1.0) / self.period_s)
                continue
            if rng.random() < self.loss:
                continue
            jitter = max(-0.4, min(0.4, rng.gauss(0.0, 0.1))) * self.period_s
            return self._n * self.period_s + jitter

    def _fill(self) -> None:
        times = np.array([self._next_time() for _ in range(_BLOCK)])
        H = self.true_channel(times)
        iq = self.receiver.frames(H, times)
        power = np.mean(np.abs(H) ** 2, axis=1)
        rssi = self.rssi_dbm + 10.0 * np.log10(np.maximum(power, 1e-6)) + self.receiver.np_rng.normal(0, 1.0, len(times))
        rssi = np.clip(np.rint(rssi), -100, -20).astype(int)
        self._queue = [Frame(b, int(r), self.channel, BOOT_US + int(round(t * 1e6)), self.noise_floor, float(t))
                       for b, r, t in zip(iq, rssi, times)][::-1]

    def next_frame(self) -> Frame:
        """The next CSI frame the node's WiFi driver would hand over."""
        if not self._queue:
            self._fill()
        return self._queue.pop()

    def frames(self, duration_s: float | None = None) -> Iterator[Frame]:
        """Frames until scenario time duration_s (None: forever)."""
        while True:
            f = self.next_frame()
            if duration_s is not None and f.t > duration_s:
                return
            yield f

    # ---- ground truth ----
    def truth(self, t: float) -> Truth:
        persons = 0
        motion = False
        br: list[float] = []
        hr: list[float] = []
        falls: list[float] = []
        for p in self.persons:
            present, moving, b, h = p.truth(t)
            persons += present
            motion = motion or moving
            if b is not None:
                br.append(b)
                hr.append(h)
            falls.extend(p.fall_times(t))
        return Truth(t, persons, persons > 0, motion, tuple(br), tuple(hr), tuple(sorted(falls)))

    def fall_times(self, until: float) -> list[float]:
        return sorted(ft for p in self.persons for ft in p.fall_times(until))

    def time_of(self, timestamp_us: int) -> float:
        """Scenario time of a frame timestamp."""
        return (timestamp_us - BOOT_US) / 1e6


# ------------------------------------------------------------------------------ factories ---

_POSTURES = {"stand": B.STAND, "sit": B.SIT, "lie": B.LIE}


def _person(room, rng, bpm, hr, plan, spot=None):
    return B.Person(rng, bpm, hr, plan, spot or room.random_spot(rng))


def _empty(room, rng, **_):
    return []


def _breathing(room, rng, rate_bpm=15.0, heart_bpm=72.0, enter_s=0.0, posture="stand", **_):
    if posture not in _POSTURES:
        raise ValueError(f"posture={posture!r}: use one of {', '.join(_POSTURES)}")
    return [_person(room, rng, rate_bpm, heart_bpm, _plan_still(room, _POSTURES[posture], float(enter_s)))]


def _walking(room, rng, rate_bpm=15.0, heart_bpm=80.0, **_):
    return [_person(room, rng, rate_bpm, heart_bpm, _plan_walking(room))]


def _mixed(room, rng, rate_bpm=15.0, heart_bpm=75.0, **_):
    return [_person(room, rng, rate_bpm, heart_bpm, _plan_daily(room))]


def _fall(room, rng, t=30.0, before="walk", walk_s=8.0, rate_bpm=16.0, heart_bpm=85.0, **_):
    if before not in ("walk", "stand"):
        raise ValueError(f"before={before!r}: use 'walk' or 'stand'")
    return [_person(room, rng, rate_bpm, heart_bpm, _plan_fall(room, float(t), before, float(walk_s)))]


def _two_people(room, rng, rate_bpm=12.0, rate2_bpm=20.0, heart_bpm=65.0, heart2_bpm=85.0, enter_s=0.0, **_):
    a = room.random_spot(rng)
    b = room.random_spot(rng)
    for _ in range(100):
        if math.dist(a, b) >= 1.5:
            break
        b = room.random_spot(rng)
    second = float(enter_s) + 4.0 if enter_s > 0 else 0.0  # one after the other through the door
    return [_person(room, rng, rate_bpm, heart_bpm, _plan_still(room, B.STAND, float(enter_s)), a),
            _person(room, rng, rate2_bpm, heart2_bpm, _plan_still(room, B.STAND, second), b)]


def _enter_leave_f(room, rng, enter_s=10.0, stay_s=40.0, away_s=20.0, rate_bpm=14.0, heart_bpm=70.0, **_):
    return [_person(room, rng, rate_bpm, heart_bpm, _plan_enter_leave(room, float(enter_s), float(stay_s), float(away_s)))]


# name -> (factory, parameter names and defaults, one-line help)
SCENARIOS: dict[str, tuple[Callable, dict, str]] = {
    "empty": (_empty, {}, "an empty room"),
    "breathing": (_breathing, {"rate_bpm": 15.0, "heart_bpm": 72.0, "enter_s": 0.0, "posture": "stand"},
                  "one person still (stand/sit/lie), breathing (walks in at enter_s if > 0)"),
    "walking": (_walking, {"rate_bpm": 15.0, "heart_bpm": 80.0}, "one person walking around"),
    "mixed": (_mixed, {"rate_bpm": 15.0, "heart_bpm": 75.0},
              "daily activity without falls: standing, walking, sitting down, bending over"),
    "fall": (_fall, {"t": 30.0, "before": "walk", "walk_s": 8.0, "rate_bpm": 16.0, "heart_bpm": 85.0},
             "a person stands, walks for walk_s (or keeps standing), falls at time t, lies still"),
    "two-people": (_two_people, {"rate_bpm": 12.0, "rate2_bpm": 20.0, "heart_bpm": 65.0, "heart2_bpm": 85.0,
                                 "enter_s": 0.0},
                   "two people still, breathing at different rates (walk in at enter_s if > 0)"),
    "enter-leave": (_enter_leave_f, {"enter_s": 10.0, "stay_s": 40.0, "away_s": 20.0, "rate_bpm": 14.0,
                                     "heart_bpm": 70.0},
                    "empty, then a person walks in, stays, walks out, repeatedly"),
}

# radio and room keywords (Scenario / Room), the rest go to the scenario's persons
_RADIO_PARAMS = ("rate_hz", "n_subcarriers", "channel", "snr_db", "rssi_dbm", "noise_floor", "loss", "gap_prob",
                 "agc", "body_db")
_ROOM_PARAMS = ("k_db", "rms_ns")
_STRING_PARAMS = ("before", "posture")
_INT_PARAMS = ("n_subcarriers", "channel", "noise_floor")


def _valid(name: str) -> str:
    return ", ".join(list(SCENARIOS[name][1]) + list(_RADIO_PARAMS) + list(_ROOM_PARAMS))


def make_scenario(name: str, seed: int = 0, **params) -> Scenario:
    """Build a scenario by name. Radio keywords (rate_hz, n_subcarriers, channel, snr_db,
    rssi_dbm, noise_floor, loss, gap_prob, agc 0/1, body_db) go to the Scenario, room keywords
    (k_db, rms_ns) to the Room, the rest to the scenario's persons (see SCENARIOS).
    Unknown names/keywords raise ValueError."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}")
    factory, defaults, _ = SCENARIOS[name]
    radio = {k: params.pop(k) for k in list(params) if k in _RADIO_PARAMS}
    room_kw = {k: params.pop(k) for k in list(params) if k in _ROOM_PARAMS}
    unknown = [k for k in params if k not in defaults]
    if unknown:
        raise ValueError(f"scenario {name!r} has no parameter {unknown[0]!r}; valid: {_valid(name)}")
    if "body_db" in radio and not isinstance(radio["body_db"], (list, tuple)):
        radio["body_db"] = [float(radio["body_db"])] * 2
    rng = random.Random(seed)
    room = Room(rng, int(radio.get("channel", 5)), **room_kw)
    persons = factory(room, rng, **params)
    if "body_db" in radio:
        radio["body_db"] = list(radio["body_db"])[: len(persons)] or None
    return Scenario(name, room, persons, rng, seed=seed, params={**defaults, **params}, **radio)


def parse_scenario(spec: str) -> tuple[str, dict]:
    """'breathing:rate_bpm=12,heart_bpm=60' -> ('breathing', {'rate_bpm': 12.0, 'heart_bpm': 60.0}).
    Values are numbers except known string parameters. Raises ValueError with the valid choices."""
    name, _, rest = spec.partition(":")
    name = name.strip()
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}")
    params: dict = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq:
            raise ValueError(f"scenario parameter {item!r} must be written key=value")
        if key in _STRING_PARAMS:
            params[key] = value.strip()
            continue
        try:
            num = float(value)
        except ValueError:
            raise ValueError(f"scenario parameter {key}={value!r} is not a number") from None
        params[key] = int(num) if key in _INT_PARAMS else num
    defaults = SCENARIOS[name][1]
    for key in params:
        if key not in defaults and key not in _RADIO_PARAMS and key not in _ROOM_PARAMS:
            raise ValueError(f"scenario {name!r} has no parameter {key!r}; valid: {_valid(name)}")
    return name, params


__all__ = [
    "Frame", "Truth", "Scenario", "SCENARIOS", "make_scenario", "parse_scenario",
    "channel_freq_mhz", "BOOT_US",
]
