"""Synthetic WiFi CSI scenarios: the I/Q an ESP32-S3 would report for a room, with ground truth.

Used by the simulator (what an emulated node streams, through the firmware core) and by
benchmarks/dsp_accuracy.py (how well that core measures what really happened).

Physical model, per subcarrier k of a 20 MHz channel (spacing 312.5 kHz around the centre):

    H_k(t) = sum_static a_p e^{-j2π f_k τ_p} + sum_persons a_d e^{-j2π f_k L_d(t)/c}

L_d(t) is the TX → body → RX path length: the body's position in a 6 m × 5 m room (walking,
falling; swinging limbs as extra small scatterers) plus the chest displacement (breathing ~5 mm
with slow rate wander, heart ~0.3 mm). A body inside the first Fresnel zone of the line of sight
also attenuates that path (up to ~8 dB), as when someone walks between the AP and the node.
Each frame is then multiplied by e^{j(φ0 + k·s)} (a random common phase and a random linear
phase slope per frame, the CFO/STO real ESP32 CSI carries), scaled by a per-packet AGC gain in
0.5 dB steps, noised (complex Gaussian, `snr_db`), and quantised to int8 pairs laid out as the
ESP32 driver delivers them (ESP-IDF "Wi-Fi Channel State Information"): subcarriers in FFT order
0..31, -32..-1 per 64-bin training field, each pair (imaginary, real), DC and guard-band
subcarriers exactly zero. PROTOCOL.md's receivers read byte 0 of a pair as I; that conjugates and
rotates every value, which a sound DSP does not notice. Frames with more than 64 subcarriers
repeat the 64-bin layout (L-LTF, HT-LTF, STBC-HT-LTF) with independent noise. Frame times
follow a nominal rate with clock drift, jitter, lost frames and occasional gaps.

Everything is pure Python (no numpy): per-frame terms are geometric sequences over the
subcarriers, built with itertools.accumulate and operator maps, so generation stays far below
real time for a 50-node fleet (see benchmarks/dsp_accuracy.py --gen-speed).

A scenario is deterministic for a seed: `random.Random(seed)` drives every draw, and the ground
truth (`truth(t)`) is a pure function of time.
"""

from __future__ import annotations

import bisect
import cmath
import math
import random
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from operator import add, itemgetter, mul
from typing import Callable, Iterator

C_LIGHT = 299_792_458.0
SUBCARRIER_SPACING_HZ = 312_500.0
ROOM_W, ROOM_D = 6.0, 5.0  # metres; the AP at x = 0, the node at x = ROOM_W
TX = (0.0, 2.5, 1.0)
RX = (ROOM_W, 2.5, 1.0)
DOOR = (3.0, ROOM_D + 0.6, 1.1)  # just outside the wall at y = ROOM_D
RX_IMAGES = ((RX[0], -RX[1], RX[2]), (RX[0], 2.0 * ROOM_D - RX[1], RX[2]))  # node mirrored in the long walls
WALL_GAMMA = 0.5  # amplitude reflection coefficient of a wall
BOOT_US = 3_900_000  # frame timestamps start after the node's 3.9 s boot
AGC_TARGET = 22.0  # mean |H| in LSB after the AGC
WINDOW_S = 15.0  # ground-truth rates are averages over this trailing window
_TWO_PI = 2.0 * math.pi
_I8 = bytes((i - 128) & 0xFF for i in range(256))  # offset-binary 0..255 -> int8 byte


def channel_freq_mhz(channel: int) -> int:
    """Centre frequency of a WiFi channel (PROTOCOL.md §1.1)."""
    if 1 <= channel <= 13:
        return 2407 + 5 * channel
    if channel == 14:
        return 2484
    if 36 <= channel <= 177:
        return 5000 + 5 * channel
    raise ValueError(f"channel {channel} is not a 2.4 GHz (1-14) or 5 GHz (36-177) WiFi channel")


# ----------------------------------------------------------------------------------- truth ---


@dataclass(frozen=True, slots=True)
class Truth:
    """What really happened at scenario time t (seconds since the first frame)."""

    t: float
    persons: int  # people in the room
    presence: bool
    motion: bool  # someone walking or falling
    breathing_bpm: tuple[float, ...]  # per person who is still (standing/lying), trailing mean
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


# ---------------------------------------------------------------------------- rhythm model ---


class _Rhythm:
    """A quasi-periodic chest motion: rate f0·(1 + wander(t)), phase in closed form."""

    def __init__(self, rng: random.Random, bpm: float, wander: float, amp_m: float, h2: float):
        self.f0 = bpm / 60.0
        self.amp = amp_m
        self.h2 = h2
        self.psi = rng.uniform(0, _TWO_PI)
        self.phi0 = rng.uniform(0, _TWO_PI)
        # two slow sinusoids (periods 40-200 s) make the rate wander by at most ±wander
        self.terms = []
        weights = (0.6, 0.4)
        for w in weights:
            omega = _TWO_PI / rng.uniform(40.0, 200.0)
            self.terms.append((wander * w, omega, rng.uniform(0, _TWO_PI)))

    def phase(self, t: float) -> float:
        acc = t
        for a, omega, theta in self.terms:
            acc += a * (math.sin(omega * t + theta) - math.sin(theta)) / omega
        return self.phi0 + _TWO_PI * self.f0 * acc

    def displacement(self, t: float) -> float:
        p = self.phase(t)
        return self.amp * (math.sin(p) + self.h2 * math.sin(2.0 * p + self.psi))

    def mean_bpm(self, t0: float, t1: float) -> float:
        if t1 - t0 < 1e-6:
            return self.f0 * 60.0
        return 60.0 * (self.phase(t1) - self.phase(t0)) / (_TWO_PI * (t1 - t0))


# ----------------------------------------------------------------------------- person model ---

# segment kinds
AWAY, STILL, WALK, FALL, LYING = "away", "still", "walk", "fall", "lying"
_MOVING = (WALK, FALL)
FALL_Z0, FALL_ZF, GRAVITY = 1.1, 0.25, 9.81


@dataclass(slots=True)
class _Segment:
    t0: float
    t1: float
    kind: str
    points: list[tuple[float, float, float]]  # walk: waypoints; still/lying/fall: [start(, end)]
    times: list[float] = field(default_factory=list)  # walk: arrival time at each waypoint
    fade_in: bool = False  # walking in through the door
    fade_out: bool = False  # walking out through the door


def _dist(a, b) -> float:
    return math.sqrt((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2)


class Person:
    """One body in the room: an activity plan (segments, extended lazily), chest rhythms,
    and the resulting reflection path(s) at any time."""

    def __init__(
        self,
        rng: random.Random,
        breath_bpm: float,
        heart_bpm: float,
        plan: Callable[["Person", float, tuple], list[_Segment]],
        spot: tuple[float, float, float] | None = None,
    ):
        # a private generator: the plan extends lazily (when frames or truth() reach its end), so
        # sharing the frame generator's stream would make frames depend on truth() queries
        self.rng = rng = random.Random(rng.getrandbits(64))
        self.breath = _Rhythm(rng, breath_bpm, 0.015, rng.uniform(0.002, 0.003), 0.12)
        self.heart = _Rhythm(rng, heart_bpm, 0.03, rng.uniform(0.00012, 0.0002), 0.2)
        self.kappa = rng.uniform(1.3, 1.9)  # path-length change per metre of chest motion
        self.rho = rng.uniform(0.45, 0.6)  # reflectivity of the torso
        self.stride_hz = rng.uniform(0.85, 1.0)
        self.limb_phase = rng.uniform(0, _TWO_PI)
        self.speed = rng.uniform(0.6, 1.1)
        self.spot = spot or random_spot(rng)
        self._plan = plan
        self.segments: list[_Segment] = []
        self._starts: list[float] = []
        self._extend(0.0)

    # ---- plan ----
    def _extend(self, t: float) -> None:
        while not self.segments or self.segments[-1].t1 <= t:
            t_end = self.segments[-1].t1 if self.segments else 0.0
            pos = self.segments[-1].points[-1] if self.segments else self.spot
            for seg in self._plan(self, t_end, pos):
                self.segments.append(seg)
                self._starts.append(seg.t0)

    def segment(self, t: float) -> _Segment:
        self._extend(t)
        return self.segments[max(0, bisect.bisect_right(self._starts, t) - 1)]

    def walk(self, t0: float, points: list, fade_in=False, fade_out=False) -> _Segment:
        times = [t0]
        for a, b in zip(points, points[1:]):
            times.append(times[-1] + _dist(a, b) / self.speed)
        return _Segment(t0, times[-1], WALK, list(points), times, fade_in, fade_out)

    # ---- state at time t ----
    def state(self, t: float):
        """(segment, position, visibility 0..1)."""
        seg = self.segment(t)
        if seg.kind == AWAY:
            return seg, seg.points[-1], 0.0
        if seg.kind in (STILL, LYING):
            return seg, seg.points[0], 1.0
        if seg.kind == FALL:
            a, b = seg.points[0], seg.points[-1]
            tau = min(t - seg.t0, seg.t1 - seg.t0)
            u = (tau / (seg.t1 - seg.t0)) ** 2  # free fall: displacement ∝ τ²
            return seg, (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u, a[2] + (b[2] - a[2]) * u), 1.0
        # walking: piecewise linear at constant speed
        i = max(0, min(len(seg.times) - 2, bisect.bisect_right(seg.times, t) - 1))
        a, b = seg.points[i], seg.points[i + 1]
        span = seg.times[i + 1] - seg.times[i]
        u = 0.0 if span <= 0 else min(1.0, max(0.0, (t - seg.times[i]) / span))
        pos = (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u, a[2] + (b[2] - a[2]) * u)
        vis = 1.0
        if seg.fade_in:
            vis = min(vis, (t - seg.t0) / 1.0)
        if seg.fade_out:
            vis = min(vis, (seg.t1 - t) / 1.0)
        return seg, pos, max(0.0, min(1.0, vis))

    def paths(self, t: float) -> list[tuple[float, float]]:
        """(amplitude relative to line of sight, path length m) of every reflection now: the
        torso directly and via the two long walls (image method: the node mirrored in the wall),
        plus swinging limbs while walking or falling."""
        seg, pos, vis = self.state(t)
        if vis <= 0.0:
            return []
        d1, d2 = _dist(TX, pos), _dist(pos, RX)
        amp = min(0.9, self.rho * ROOM_W / (d1 * d2)) * vis
        chest = self.breath.displacement(t)
        if seg.kind in (STILL, LYING):
            chest += self.heart.displacement(t)
        chest *= self.kappa
        out = [(amp, d1 + d2 + chest)]
        for image in RX_IMAGES:  # TX -> body -> wall -> node
            d2w = _dist(pos, image)
            out.append((amp * WALL_GAMMA * d2 / d2w, d1 + d2w + chest))
        if seg.kind == WALK:  # swinging arms and legs
            length = d1 + d2
            swing = 0.15 * math.sin(_TWO_PI * self.stride_hz * t + self.limb_phase)
            out.append((0.3 * amp, length + 2.0 * swing))
            out.append((0.25 * amp, length - 2.0 * swing))
        elif seg.kind == FALL:  # arms thrown out to break the fall, legs folding
            length = d1 + d2
            u = (t - seg.t0) / (seg.t1 - seg.t0)
            out.append((0.35 * amp, length + 0.8 * math.sin(0.5 * math.pi * u)))
            out.append((0.3 * amp, length - 0.6 * u * u))
        return out

    def shadow(self, t: float) -> float:
        """Fraction of the line-of-sight amplitude this body blocks (0..0.6): a torso near the
        TX-RX line at antenna height sits in the first Fresnel zone (radius ~0.43 m mid-room
        at 2.4 GHz) and shadows it by up to ~8 dB."""
        seg, pos, vis = self.state(t)
        if vis <= 0.0:
            return 0.0
        u = min(1.0, max(0.0, (pos[0] - TX[0]) / (RX[0] - TX[0])))
        fresnel = max(0.1, 0.43 * math.sqrt(4.0 * u * (1.0 - u)))
        off2 = (pos[1] - TX[1]) ** 2 + (pos[2] - TX[2]) ** 2
        return 0.6 * vis * math.exp(-off2 / (fresnel * fresnel))

    def truth(self, t: float) -> tuple[bool, bool, float | None, float | None]:
        """(present, moving, breathing bpm, heart bpm) — rates only while still."""
        seg = self.segment(t)
        if seg.kind == AWAY:
            return False, False, None, None
        if seg.kind in _MOVING:
            return True, True, None, None
        t0 = max(0.0, t - WINDOW_S)
        return True, False, self.breath.mean_bpm(t0, t), self.heart.mean_bpm(t0, t)

    def fall_times(self, t: float) -> list[float]:
        self._extend(t)
        return [s.t0 for s in self.segments if s.kind == FALL and s.t0 <= t]


def random_spot(rng: random.Random, z: float = 1.1) -> tuple[float, float, float]:
    """Somewhere in the room away from the walls and the line of sight."""
    y = rng.choice((rng.uniform(0.6, 1.8), rng.uniform(3.2, 4.4)))
    return (rng.uniform(1.0, ROOM_W - 1.0), y, z)


def _waypoints(rng: random.Random, start, n: int) -> list:
    pts = [start]
    for _ in range(n):
        pts.append((rng.uniform(0.5, ROOM_W - 0.5), rng.uniform(0.5, ROOM_D - 0.5), 1.1))
    return pts


# -------------------------------------------------------------------------- activity plans ---


def plan_still(p: Person, t: float, pos) -> list[_Segment]:
    return [_Segment(t, t + 3600.0, STILL, [p.spot])]


def plan_walking(p: Person, t: float, pos) -> list[_Segment]:
    return [p.walk(t, _waypoints(p.rng, pos, 8))]


def plan_mixed(p: Person, t: float, pos) -> list[_Segment]:
    """Breathing and walking: stand still 15-60 s, walk 8-30 s to a new spot, repeat."""
    rng = p.rng
    still = _Segment(t, t + rng.uniform(15.0, 60.0), STILL, [(pos[0], pos[1], 1.1)])
    pts = [(pos[0], pos[1], 1.1)]
    walk = p.walk(still.t1, pts)
    while walk.t1 - walk.t0 < rng.uniform(8.0, 30.0):
        pts.append((rng.uniform(0.5, ROOM_W - 0.5), rng.uniform(0.5, ROOM_D - 0.5), 1.1))
        walk = p.walk(still.t1, pts)
    return [still, walk]


def make_plan_fall(fall_at: float, before: str, walk_s: float = 8.0) -> Callable:
    """Stand still, walk for the last walk_s seconds (before="walk") or keep standing
    (before="stand") until fall_at, fall (free fall of the torso to the floor), lie still."""

    def plan(p: Person, t: float, pos) -> list[_Segment]:
        if t > 0.0:  # after the first plan: lying on the floor for good
            return [_Segment(t, t + 3600.0, LYING, [pos])]
        rng = p.rng
        if before == "walk":
            t_walk = max(0.0, fall_at - walk_s)
            pts = _waypoints(rng, p.spot, 1)
            seg = p.walk(t_walk, pts)
            while seg.t1 < fall_at:
                pts.append((rng.uniform(0.5, ROOM_W - 0.5), rng.uniform(0.5, ROOM_D - 0.5), 1.1))
                seg = p.walk(t_walk, pts)
            # cut the walk at fall_at
            i = bisect.bisect_right(seg.times, fall_at) - 1
            a, b = seg.points[i], seg.points[i + 1]
            u = (fall_at - seg.times[i]) / max(1e-9, seg.times[i + 1] - seg.times[i])
            here = (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u, 1.1)
            pre = [p.walk(t_walk, seg.points[: i + 1] + [here])]
            if t_walk > 0.0:
                pre.insert(0, _Segment(0.0, t_walk, STILL, [p.spot]))
            heading = math.atan2(b[1] - a[1], b[0] - a[0])
        else:
            here = p.spot
            pre = [_Segment(0.0, fall_at, STILL, [here])]
            heading = rng.uniform(0, _TWO_PI)
        reach = rng.uniform(0.5, 0.9)
        end = (
            min(ROOM_W - 0.3, max(0.3, here[0] + reach * math.cos(heading))),
            min(ROOM_D - 0.3, max(0.3, here[1] + reach * math.sin(heading))),
            FALL_ZF,
        )
        dur = math.sqrt(2.0 * (FALL_Z0 - FALL_ZF) / GRAVITY)
        fall = _Segment(fall_at, fall_at + dur, FALL, [here, end])
        return pre + [fall]

    return plan


def make_plan_arrive(enter_s: float) -> Callable:
    """Away until enter_s, walk in through the door to the person's spot, stay there still
    (enter_s <= 0: in the room, still, from the start)."""

    def plan(p: Person, t: float, pos) -> list[_Segment]:
        if t > 0.0 or enter_s <= 0.0:
            return [_Segment(t, t + 3600.0, STILL, [p.spot])]
        enter = p.walk(enter_s, [DOOR, (DOOR[0], ROOM_D - 0.5, 1.1), p.spot], fade_in=True)
        return [_Segment(0.0, enter_s, AWAY, [DOOR]), enter, _Segment(enter.t1, enter.t1 + 3600.0, STILL, [p.spot])]

    return plan


def make_plan_enter_leave(first_entry: float, stay_s: float, away_s: float) -> Callable:
    """Empty until first_entry; walk in through the door, stay still stay_s, walk out, stay
    away away_s, repeat."""

    def plan(p: Person, t: float, pos) -> list[_Segment]:
        rng = p.rng
        away = _Segment(t, first_entry if t == 0.0 else t + away_s, AWAY, [DOOR])
        spot = random_spot(rng)
        enter = p.walk(away.t1, [DOOR, (DOOR[0], ROOM_D - 0.5, 1.1), spot], fade_in=True)
        stay = _Segment(enter.t1, enter.t1 + stay_s, STILL, [spot])
        leave = p.walk(stay.t1, [spot, (DOOR[0], ROOM_D - 0.5, 1.1), DOOR], fade_out=True)
        return [away, enter, stay, leave]

    return plan


# ------------------------------------------------------------------------------- scenario ---


class Scenario:
    """A room with static multipath and some persons, producing ESP32-like CSI frames."""

    def __init__(
        self,
        name: str,
        persons: list[Person],
        rng: random.Random,
        *,
        rate_hz: float = 28.5,
        n_subcarriers: int = 64,
        channel: int = 5,
        snr_db: float = 25.0,
        rssi_dbm: float = -55.0,
        noise_floor: int = -95,
        loss: float = 0.005,
        gap_prob: float = 0.0005,
        seed: int | None = None,
        params: dict | None = None,
    ):
        if not 1.0 <= rate_hz <= 100.0:
            raise ValueError(f"rate_hz={rate_hz} out of range: valid 1..100 Hz")
        if n_subcarriers not in (64, 128, 192):
            raise ValueError(f"n_subcarriers={n_subcarriers}: ESP32-S3 reports 64, 128 or 192")
        self.name = name
        self.seed = seed
        self.params = dict(params or {})
        self.persons = persons
        self.rng = rng
        self.rate_hz = rate_hz
        self.n_subcarriers = n_subcarriers
        self.channel = channel
        self.noise_floor = noise_floor
        self.rssi_dbm = rssi_dbm
        self.loss = loss
        self.gap_prob = gap_prob
        self.period_s = (1.0 / rate_hz) * (1.0 + rng.uniform(-0.01, 0.01))  # clock drift
        self._n = 0  # nominal frame index
        self._skip = 0  # frames still to drop (a gap)

        fc = channel_freq_mhz(channel) * 1e6
        self._f_lo = fc - 32 * SUBCARRIER_SPACING_HZ  # frequency of offset -32
        # static multipath: the line of sight (often partly obstructed) plus 4-8 reflections
        # off walls, floor, ceiling and furniture, up to second-order bounces (excess path
        # 1-25 m, i.e. delay spread of tens of ns: a frequency-selective 20 MHz channel)
        los = _dist(TX, RX)
        self._los_amp = rng.uniform(0.5, 1.0)
        statics = [(self._los_amp, los)]
        for _ in range(rng.randint(4, 8)):
            excess = rng.uniform(1.0, 25.0)
            statics.append((rng.uniform(0.25, 0.7) * math.exp(-excess / 15.0), los + excess))
        self._static64 = [0j] * 64
        for amp, length in statics:
            self._static64 = list(map(add, self._static64, self._term64(amp, length)))
        self._los64 = self._term64(self._los_amp, los)
        self._static_mag = sum(map(abs, self._static64)) / 64.0
        # subcarrier layout: FFT order (0..31, -32..-1) per 64-bin block; nulls -> index 64 (0j)
        perm, sigma = [], []
        noise_sigma = AGC_TARGET / math.sqrt(2.0) * 10.0 ** (-snr_db / 20.0)
        for block in range(n_subcarriers // 64):
            nulls = set(range(27, 38)) if block == 0 else set(range(29, 36))
            nulls.add(0)
            for i in range(64):
                if i in nulls:
                    perm.append(64)
                    sigma.append(0.0)
                else:
                    off = i if i < 32 else i - 64
                    perm.append(off + 32)
                    sigma.append(noise_sigma)
        self._expand = itemgetter(*perm)
        self._sigma = sigma
        self._noise = _noise_pool()

    # ---- physics ----
    def _term64(self, amp: float, length: float) -> list[complex]:
        """amp·e^{-j2π f L/c} for the 64 offsets -32..31 (a geometric sequence)."""
        tau = length / C_LIGHT
        start = amp * cmath.exp(-1j * _TWO_PI * self._f_lo * tau)
        step = cmath.exp(-1j * _TWO_PI * SUBCARRIER_SPACING_HZ * tau)
        return list(accumulate(repeat(step, 63), mul, initial=start))

    def static_ripple_db(self) -> float:
        """Max/min |H| of the empty room across the band: how frequency-selective it is
        (a flat channel hides a person's effect in the common phase/gain the node removes)."""
        mags = [abs(z) for z in self._static64]
        return 20.0 * math.log10(max(mags) / max(1e-9, min(mags)))

    def channel64(self, t: float) -> list[complex]:
        """The true channel (no CFO/STO, AGC or noise) at offsets -32..31."""
        h = self._static64
        block = 0.0
        for person in self.persons:
            block = max(block, person.shadow(t))
            for amp, length in person.paths(t):
                h = list(map(add, h, self._term64(amp, length)))
        if block > 0.01:  # a body in the first Fresnel zone attenuates the line of sight
            h = list(map(add, h, map(mul, self._los64, repeat(-block))))
        return h

    # ---- frames ----
    def next_frame(self) -> Frame:
        """The next CSI frame the node's WiFi driver would hand over."""
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
            break
        jitter = max(-0.3, min(0.3, rng.gauss(0.0, 0.08))) * self.period_s
        t = self._n * self.period_s + jitter
        return self._synth(t)

    def frames(self, duration_s: float | None = None) -> Iterator[Frame]:
        """Frames until scenario time duration_s (None: forever)."""
        while True:
            f = self.next_frame()
            if duration_s is not None and f.t > duration_s:
                return
            yield f

    def _synth(self, t: float) -> Frame:
        rng = self.rng
        h = self.channel64(t)
        mag = sum(map(abs, h)) / 64.0
        # per-packet AGC: gain in 0.5 dB steps around the target, with a little decision noise
        gain_db = round(2.0 * (20.0 * math.log10(AGC_TARGET / mag) + rng.gauss(0.0, 0.4))) / 2.0
        gain = 10.0 ** (gain_db / 20.0)
        # CFO/STO: random common phase and linear slope per frame
        slope = rng.uniform(-0.2, 0.2)
        start = gain * cmath.exp(1j * (rng.uniform(0.0, _TWO_PI) - 32.0 * slope))
        h = list(map(mul, h, accumulate(repeat(cmath.exp(1j * slope), 63), mul, initial=start)))
        h.append(0j)
        n = self.n_subcarriers
        o = rng.randrange(len(self._noise) - n)
        z = list(map(add, self._expand(h), map(mul, self._noise[o : o + n], self._sigma)))
        re = [v.real for v in z]
        im = [v.imag for v in z]
        peak = max(max(re), -min(re), max(im), -min(im))
        if peak > 127.0:  # the AGC backs off rather than clip
            k = 127.0 / peak
            re = [v * k for v in re]
            im = [v * k for v in im]
        iq = [0.0] * (2 * n)
        iq[0::2] = im  # the ESP32 driver stores each subcarrier as (imaginary, real)
        iq[1::2] = re
        raw = bytes(map(int, map(add, iq, repeat(128.5)))).translate(_I8)
        rssi = self.rssi_dbm + 20.0 * math.log10(max(1e-6, mag / self._static_mag))
        rssi = int(round(max(-100.0, min(-20.0, rssi + rng.gauss(0.0, 0.8)))))
        ts = BOOT_US + int(round(t * 1e6))
        return Frame(raw, rssi, self.channel, ts, self.noise_floor, t)

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


_POOL: list[complex] | None = None


def _noise_pool(size: int = 8192 + 256) -> list[complex]:
    """Unit complex Gaussian samples shared by every scenario (fixed seed: reproducible), read
    at a random offset per frame — drawing fresh Gaussians per subcarrier would dominate the
    generation cost."""
    global _POOL
    if _POOL is None:
        r = random.Random(0x5EED)
        g = r.gauss
        _POOL = [complex(g(0.0, 1.0), g(0.0, 1.0)) for _ in range(size)]
    return _POOL


# ------------------------------------------------------------------------------ factories ---


def _empty(rng, **_):
    return []


def _breathing(rng, rate_bpm: float = 15.0, heart_bpm: float = 72.0, enter_s: float = 0.0, **_):
    return [Person(rng, rate_bpm, heart_bpm, make_plan_arrive(float(enter_s)))]


def _walking(rng, rate_bpm: float = 15.0, heart_bpm: float = 80.0, **_):
    return [Person(rng, rate_bpm, heart_bpm, plan_walking)]


def _mixed(rng, rate_bpm: float = 15.0, heart_bpm: float = 75.0, **_):
    return [Person(rng, rate_bpm, heart_bpm, plan_mixed)]


def _fall(rng, t: float = 30.0, before: str = "walk", walk_s: float = 8.0, rate_bpm: float = 16.0,
          heart_bpm: float = 85.0, **_):
    if before not in ("walk", "stand"):
        raise ValueError(f"before={before!r}: use 'walk' or 'stand'")
    return [Person(rng, rate_bpm, heart_bpm, make_plan_fall(float(t), before, float(walk_s)))]


def _two_people(rng, rate_bpm: float = 12.0, rate2_bpm: float = 20.0, heart_bpm: float = 65.0,
                heart2_bpm: float = 85.0, enter_s: float = 0.0, **_):
    a = random_spot(rng)
    b = random_spot(rng)
    while _dist(a, b) < 1.5:
        b = random_spot(rng)
    second = float(enter_s) + 4.0 if enter_s > 0 else 0.0  # one after the other through the door
    return [Person(rng, rate_bpm, heart_bpm, make_plan_arrive(float(enter_s)), a),
            Person(rng, rate2_bpm, heart2_bpm, make_plan_arrive(second), b)]


def _enter_leave(rng, enter_s: float = 10.0, stay_s: float = 40.0, away_s: float = 20.0,
                 rate_bpm: float = 14.0, heart_bpm: float = 70.0, **_):
    return [Person(rng, rate_bpm, heart_bpm, make_plan_enter_leave(float(enter_s), float(stay_s), float(away_s)))]


# name -> (factory, parameter names and defaults, one-line help)
SCENARIOS: dict[str, tuple[Callable, dict, str]] = {
    "empty": (_empty, {}, "an empty room"),
    "breathing": (_breathing, {"rate_bpm": 15.0, "heart_bpm": 72.0, "enter_s": 0.0},
                  "one person standing still, breathing (walks in at enter_s if > 0)"),
    "walking": (_walking, {"rate_bpm": 15.0, "heart_bpm": 80.0}, "one person walking around"),
    "mixed": (_mixed, {"rate_bpm": 15.0, "heart_bpm": 75.0}, "one person alternately standing and walking"),
    "fall": (_fall, {"t": 30.0, "before": "walk", "walk_s": 8.0, "rate_bpm": 16.0, "heart_bpm": 85.0},
             "a person stands, walks for walk_s (or keeps standing), falls at time t, lies still"),
    "two-people": (_two_people, {"rate_bpm": 12.0, "rate2_bpm": 20.0, "heart_bpm": 65.0, "heart2_bpm": 85.0,
                                 "enter_s": 0.0},
                   "two people still, breathing at different rates (walk in at enter_s if > 0)"),
    "enter-leave": (_enter_leave, {"enter_s": 10.0, "stay_s": 40.0, "away_s": 20.0, "rate_bpm": 14.0,
                                   "heart_bpm": 70.0},
                    "empty, then a person walks in, stays, walks out, repeatedly"),
}

_RADIO_PARAMS = ("rate_hz", "n_subcarriers", "channel", "snr_db", "rssi_dbm", "noise_floor", "loss", "gap_prob")


def make_scenario(name: str, seed: int = 0, **params) -> Scenario:
    """Build a scenario by name. Radio keywords (rate_hz, n_subcarriers, channel, snr_db,
    rssi_dbm, noise_floor, loss, gap_prob) go to the Scenario; the rest to the scenario's
    persons (see SCENARIOS for names and defaults). Unknown names/keywords raise ValueError."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}")
    factory, defaults, _ = SCENARIOS[name]
    radio = {k: params.pop(k) for k in list(params) if k in _RADIO_PARAMS}
    unknown = [k for k in params if k not in defaults]
    if unknown:
        valid = ", ".join(list(defaults) + list(_RADIO_PARAMS))
        raise ValueError(f"scenario {name!r} has no parameter {unknown[0]!r}; valid: {valid}")
    rng = random.Random(seed)
    persons = factory(rng, **params)
    return Scenario(name, persons, rng, seed=seed, params={**defaults, **params}, **radio)


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
        if key in ("before",):
            params[key] = value.strip()
            continue
        try:
            num = float(value)
        except ValueError:
            raise ValueError(f"scenario parameter {key}={value!r} is not a number") from None
        params[key] = int(num) if key in ("n_subcarriers", "channel", "noise_floor") else num
    defaults = SCENARIOS[name][1]
    for key in params:
        if key not in defaults and key not in _RADIO_PARAMS:
            valid = ", ".join(list(defaults) + list(_RADIO_PARAMS))
            raise ValueError(f"scenario {name!r} has no parameter {key!r}; valid: {valid}")
    return name, params


__all__ = [
    "Frame", "Truth", "Scenario", "Person", "SCENARIOS", "make_scenario", "parse_scenario",
    "channel_freq_mhz", "BOOT_US",
]
