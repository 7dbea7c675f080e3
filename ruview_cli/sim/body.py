"""A person for the synthetic CSI channel: vital-sign motion, posture and activities.

Everything is a pure function of time (vectorised over numpy arrays of times), so ground truth
and frames never depend on the order in which they are asked for. Facts the model rests on:

* Breathing: quiet breathing 6-30 BPM; inhale shorter than exhale (inspiratory:expiratory time
  ratio about 1:1.5, i.e. inhale ~40 % of a cycle — respiratory physiology texts, e.g. West,
  "Respiratory Physiology"); each cycle's period varies by up to +-6 % and its depth by +-15 %
  (the issue's range; breath-to-breath variability reviewed by Tobin et al., Chest 1988).
  Chest-wall displacement 4-12 mm peak to peak for the chest, more on the abdomen (figures used
  by the WiFi/RF vital-sign papers, e.g. Adib et al., "Smart Homes that Monitor Breathing and
  Heart Rate", CHI 2015; Liu et al., "Tracking Vital Signs During Sleep Leveraging
  Off-the-shelf WiFi", MobiHoc 2015).
* Heartbeat: a pulse per beat (the ballistocardiographic chest recoil, ~0.1-0.5 mm), beat-to-beat
  (RR) intervals varying with breathing (respiratory sinus arrhythmia, ~+-4 %) and at random
  (~2-4 %, normal short-term HRV, Task Force of the ESC/NASPE, Circulation 1996).
* Postural sway while standing: 1-3 mm rms of slow (< 0.5 Hz) torso motion — the body's centre
  of mass, which sways less than the centre of pressure that stance studies report at ~3-5 mm
  (Prieto et al., IEEE TBME 1996; Winter, Gait & Posture 1995); less sitting, none lying.
* Falls: the body topples about the feet like an inverted pendulum under gravity (half a
  rigid rod's torque: knees and hips flex, arms brace) and reaches the floor in ~1-1.3 s, peak
  trunk velocity ~3-4 m/s (Wu, "Distinguishing fall activities from normal activities by velocity
  characteristics", J. Biomech. 2000); sitting down / bending take 1-3 s with peak velocities
  below ~1 m/s (same source). Transitions other than falls follow a minimum-jerk profile
  (Flash & Hogan, J. Neurosci. 1985).

A body is a set of reflecting points (its "sub-paths"): chest, abdomen, the two side walls of the
rib cage, shoulders, head, two arms, two legs. Their positions follow the posture; the torso
points also carry the breathing and heartbeat displacement along their surface normal — the rib
cage widens front-to-back and sideways when breathing in (pump- and bucket-handle motion of the
ribs, respiratory physiology texts), the abdomen moves forward (diaphragm) — so a person seen
side-on still breathes into the channel, only less (Wang et al., "Human respiration detection
with commodity WiFi devices: do user location and body orientation matter?", UbiComp 2016).
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

import numpy as np

GRAVITY = 9.81
BODY_H = 1.75  # m
HIP_H = 0.92
WINDOW_S = 15.0  # ground-truth rates: averages over this trailing window

# segment kinds
AWAY, STAND, SIT, LIE, WALK, SIT_DOWN, STAND_UP, BEND, FALL = (
    "away", "stand", "sit", "lie", "walk", "sit-down", "stand-up", "bend", "fall")
STILL_KINDS = (STAND, SIT, LIE)
MOVING_KINDS = (WALK, SIT_DOWN, STAND_UP, BEND, FALL)

# reflecting points: name, height along the body axis (m, standing), lateral offset (m),
# forward offset (m), radar cross-section share, breathing gain, heartbeat gain, part
POINTS = (
    ("chest", 1.30, 0.00, 0.12, 0.20, 1.0, 1.0, "upper"),
    ("abdomen", 1.05, 0.00, 0.12, 0.18, 1.3, 0.3, "upper"),
    ("rib_l", 1.25, 0.17, 0.00, 0.06, 0.5, 0.2, "upper"),  # lateral rib-cage wall
    ("rib_r", 1.25, -0.17, 0.00, 0.06, 0.5, 0.2, "upper"),
    ("shoulders", 1.45, 0.00, 0.00, 0.10, 0.3, 0.1, "upper"),
    ("head", 1.62, 0.00, 0.05, 0.10, 0.1, 0.0, "upper"),
    ("arm_l", 1.10, 0.25, 0.00, 0.075, 0.0, 0.0, "arm"),
    ("arm_r", 1.10, -0.25, 0.00, 0.075, 0.0, 0.0, "arm"),
    ("leg_l", 0.50, 0.10, 0.05, 0.075, 0.0, 0.0, "leg"),
    ("leg_r", 0.50, -0.10, 0.05, 0.075, 0.0, 0.0, "leg"),
)
N_POINTS = len(POINTS)
# surface normal of each point: +1 / -1 lateral (the rib cage's side walls), 0 forward
_SIDE = np.array([{"rib_l": 1.0, "rib_r": -1.0}.get(p[0], 0.0) for p in POINTS])
_H = np.array([p[1] for p in POINTS])
_LAT = np.array([p[2] for p in POINTS])
_FWD = np.array([p[3] for p in POINTS])
RCS = np.array([p[4] for p in POINTS])
BREATH_GAIN = np.array([p[5] for p in POINTS])
HEART_GAIN = np.array([p[6] for p in POINTS])
_UPPER = np.array([p[7] == "upper" for p in POINTS])
_ARM = np.array([p[7] == "arm" for p in POINTS])
_LEG = np.array([p[7] == "leg" for p in POINTS])


def min_jerk(u):
    """Minimum-jerk position profile 0 -> 1 for u in [0, 1]."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * u * (10.0 - 15.0 * u + 6.0 * u * u)


def topple_profile(theta0: float, length: float = BODY_H) -> tuple[np.ndarray, np.ndarray]:
    """Tilt angle over time of a body toppling about its feet from theta0 to 90 degrees,
    sampled every 5 ms: (times, angles). A rigid rod would follow theta'' = 3g/(2L) sin theta
    and hit the floor at >5 m/s at chest height; a person flexes knees and hips and braces with
    the arms, so the torque is taken as half (peak chest speed ~3-4 m/s, landing in ~1-1.3 s,
    in line with the trunk velocities Wu 2000 measured)."""
    k = 0.5 * 3.0 * GRAVITY / (2.0 * length)
    dt = 0.005
    th, om, t = theta0, 0.0, 0.0
    ts, ths = [0.0], [theta0]
    while th < math.pi / 2 and t < 5.0:
        om += k * math.sin(th) * dt
        th += om * dt
        t += dt
        ts.append(t)
        ths.append(min(th, math.pi / 2))
    return np.array(ts), np.array(ths)


class Rhythm:
    """A cycle-by-cycle quasi-periodic signal: cycle starts t_i with per-cycle periods, a
    cumulative phase in cycles (for ground truth) and a waveform per cycle."""

    def __init__(self, rng: random.Random, bpm: float, jitter: float, depth_var: float,
                 modulator: "Rhythm | None" = None, rsa: float = 0.0, random_sd: float = 0.0):
        self.rng = rng
        self.t0 = -rng.uniform(0.0, 60.0 / bpm)  # a cycle is already under way at t = 0
        self.period = 60.0 / bpm
        self.jitter = jitter
        self.depth_var = depth_var
        self.modulator = modulator
        self.rsa = rsa
        self.random_sd = random_sd
        self.starts = [self.t0]
        self.depths: list[float] = []

    def _extend(self, t_end: float) -> None:
        rng = self.rng
        while self.starts[-1] <= t_end + 2.0 * self.period:
            t = self.starts[-1]
            p = self.period
            if self.jitter:
                p *= 1.0 + rng.uniform(-self.jitter, self.jitter)
            if self.random_sd:
                p *= 1.0 + max(-3 * self.random_sd, min(3 * self.random_sd, rng.gauss(0.0, self.random_sd)))
            if self.modulator is not None and self.rsa:
                # RSA: heart beats faster during inhale (phase of the breathing cycle)
                ph = self.modulator.phase(np.array([t]))[0]
                p *= 1.0 - self.rsa * math.sin(2.0 * math.pi * ph)
            self.starts.append(t + p)
            self.depths.append(1.0 + rng.uniform(-self.depth_var, self.depth_var))

    def locate(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cycle index, fraction 0..1 of that cycle) for each time."""
        self._extend(float(np.max(t)))
        s = np.asarray(self.starts)
        i = np.clip(np.searchsorted(s, t, side="right") - 1, 0, len(s) - 2)
        frac = (t - s[i]) / (s[i + 1] - s[i])
        return i, frac

    def phase(self, t: np.ndarray) -> np.ndarray:
        i, frac = self.locate(t)
        return i + frac

    def mean_bpm(self, t0: float, t1: float) -> float:
        ph = self.phase(np.array([t0, t1]))
        return 60.0 * float(ph[1] - ph[0]) / (t1 - t0)

    def depth(self, i: np.ndarray) -> np.ndarray:
        return np.asarray(self.depths)[i]


class Breathing(Rhythm):
    def __init__(self, rng: random.Random, bpm: float, amp_m: float):
        super().__init__(rng, bpm, jitter=0.06, depth_var=0.15)
        self.amp = amp_m
        self.inhale = rng.uniform(0.36, 0.44)

    def displacement(self, t: np.ndarray) -> np.ndarray:
        """Chest displacement (m, 0 = fully exhaled): raised-cosine inhale over `inhale` of the
        cycle, slower raised-cosine exhale over the rest."""
        i, u = self.locate(t)
        r = self.inhale
        x = np.where(u < r, 0.5 * (1.0 - np.cos(np.pi * u / r)),
                     0.5 * (1.0 + np.cos(np.pi * (u - r) / (1.0 - r))))
        return self.amp * self.depth(i) * x


class Heartbeat(Rhythm):
    def __init__(self, rng: random.Random, bpm: float, amp_m: float, breathing: Breathing):
        super().__init__(rng, bpm, jitter=0.0, depth_var=0.1, modulator=breathing,
                         rsa=rng.uniform(0.02, 0.05), random_sd=rng.uniform(0.02, 0.04))
        self.amp = amp_m
        self.width = rng.uniform(0.05, 0.09)  # s: the recoil pulse width

    def displacement(self, t: np.ndarray) -> np.ndarray:
        """Sum of a recoil pulse per beat (a biphasic Gaussian-derivative pulse) near t."""
        i, _ = self.locate(t)
        s = np.asarray(self.starts)
        out = np.zeros_like(t)
        w = self.width
        for d in (-1, 0, 1):
            j = np.clip(i + d, 0, len(s) - 2)
            tau = (t - s[j] - 1.5 * w) / w
            out += self.depth(j) * -tau * np.exp(0.5 - 0.5 * tau * tau)
        return self.amp * out


class Sway:
    """Postural sway: a sum of sinusoids, 0.02-0.4 Hz, amplitudes ∝ 1/f (a random-walk-like
    1/f² power spectrum: Collins & De Luca, Exp. Brain Res. 1993) in closed form, so a pure
    function of time; RMS `rms_m` along each horizontal axis."""

    def __init__(self, rng: random.Random, rms_m: float, n: int = 8):
        self.terms = []
        for axis in range(2):
            fs = [math.exp(rng.uniform(math.log(0.02), math.log(0.4))) for _ in range(n)]
            amps = [1.0 / f for f in fs]
            norm = rms_m / math.sqrt(sum(a * a for a in amps) / 2.0)
            self.terms.append([(a * norm, 2 * math.pi * f, rng.uniform(0, 2 * math.pi)) for a, f in zip(amps, fs)])

    def offset(self, t: np.ndarray, axis: int) -> np.ndarray:
        out = np.zeros_like(t)
        for a, w, ph in self.terms[axis]:
            out += a * np.sin(w * t + ph)
        return out


@dataclass(slots=True)
class Segment:
    t0: float
    t1: float
    kind: str
    pos: tuple[float, float]  # feet position at the start
    heading: float  # rad, direction the person faces / walks
    waypoints: np.ndarray | None = None  # walk: (n, 2)
    times: np.ndarray | None = None  # walk: arrival at each waypoint
    hold: float = 0.0  # bend: time held bent over
    angle: float = 0.0  # bend: trunk angle; fall: initial tilt
    curve: tuple | None = None  # fall: (times, angles) toppling profile
    fade: int = 0  # walk: +1 walking in through the door, -1 out


class Person:
    """A body with its vital signs and an activity plan of segments (fixed at construction)."""

    def __init__(self, rng: random.Random, breath_bpm: float, heart_bpm: float, plan, spot):
        # a private generator: the body's draws never depend on how many frames were made
        self.rng = rng = random.Random(rng.getrandbits(64))
        # the rhythms extend cycle by cycle when asked for later times: each its own generator,
        # so frames never depend on how far ahead the truth was asked
        self.breath = Breathing(random.Random(rng.getrandbits(64)), breath_bpm, rng.uniform(0.004, 0.010))
        self.heart = Heartbeat(random.Random(rng.getrandbits(64)), heart_bpm, rng.uniform(0.0001, 0.0005),
                               self.breath)
        self.sway_stand = Sway(rng, rng.uniform(0.001, 0.003))
        self.sway_sit = Sway(rng, rng.uniform(0.0005, 0.0015))
        self.speed = rng.uniform(0.6, 1.3)
        self.stride_hz = rng.uniform(0.8, 1.0)  # gait cycles per second
        self.limb_phase = rng.uniform(0, 2 * math.pi)
        self.spot = spot
        self.segments: list[Segment] = plan(self, rng)
        self._starts = [s.t0 for s in self.segments]
        self._starts_a = np.asarray(self._starts)
        self._swaying = np.array([s.kind in (STAND, BEND, SIT_DOWN, STAND_UP) for s in self.segments])
        self._sitting = np.array([s.kind == SIT for s in self.segments])

    # ---- plan helpers ----
    def walk(self, t0: float, points: list, fade: int = 0) -> Segment:
        times = [t0]
        for a, b in zip(points, points[1:]):
            times.append(times[-1] + math.dist(a, b) / self.speed)
        a, b = points[-2], points[-1]
        heading = math.atan2(b[1] - a[1], b[0] - a[0])
        return Segment(t0, times[-1], WALK, points[0], heading, np.asarray(points, dtype=float),
                       np.asarray(times), fade=fade)

    def segment_index(self, t: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self._starts_a, t, side="right") - 1, 0, len(self.segments) - 1)

    def segment(self, t: float) -> Segment:
        return self.segments[max(0, bisect.bisect_right(self._starts, t) - 1)]

    # ---- kinematics ----
    def points(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions (T, P, 3) of the reflecting points, their front normals (T, P, 3) along
        which the chest displacement acts, and visibility (T,) 0..1."""
        T = len(t)
        pos = np.zeros((T, 2))
        head = np.zeros(T)
        tilt = np.zeros(T)  # whole body about the feet (falls, lying)
        bend = np.zeros(T)  # upper body about the hips
        sit = np.zeros(T)  # 0 standing .. 1 seated
        vis = np.ones(T)
        swing = np.zeros(T)  # gait: limb swing phase amplitude 0..1
        bob = np.zeros(T)
        idx = self.segment_index(t)
        for si in np.unique(idx):
            seg = self.segments[si]
            m = idx == si
            tt = t[m]
            pos[m] = seg.pos
            head[m] = seg.heading
            k = seg.kind
            if k == AWAY:
                vis[m] = 0.0
            elif k == SIT:
                sit[m] = 1.0
            elif k == LIE:
                tilt[m] = math.pi / 2
            elif k == SIT_DOWN or k == STAND_UP:
                u = min_jerk((tt - seg.t0) / (seg.t1 - seg.t0))
                s = u if k == SIT_DOWN else 1.0 - u
                sit[m] = s
                bend[m] = 0.45 * np.sin(np.pi * s)  # lean forward mid-way (~25 degrees)
            elif k == BEND:
                d = (seg.t1 - seg.t0 - seg.hold) / 2.0
                u_dn = min_jerk((tt - seg.t0) / d)
                u_up = min_jerk((tt - (seg.t1 - d)) / d)
                bend[m] = seg.angle * (u_dn - u_up)
            elif k == FALL:
                ct, ca = seg.curve
                tilt[m] = np.interp(tt - seg.t0, ct, ca, right=math.pi / 2)
            elif k == WALK:
                wt, wp = seg.times, seg.waypoints
                pos[m, 0] = np.interp(tt, wt, wp[:, 0])
                pos[m, 1] = np.interp(tt, wt, wp[:, 1])
                j = np.clip(np.searchsorted(wt, tt, side="right") - 1, 0, len(wt) - 2)
                dx = wp[j + 1] - wp[j]
                head[m] = np.arctan2(dx[:, 1], dx[:, 0])
                # gait starts and stops over half a stride
                ramp = np.clip(np.minimum(tt - seg.t0, seg.t1 - tt) / 0.5, 0.0, 1.0)
                swing[m] = ramp
                bob[m] = ramp
                if seg.fade:
                    edge = (tt - seg.t0) if seg.fade > 0 else (seg.t1 - tt)
                    vis[m] = np.clip(edge / 1.0, 0.0, 1.0)
        # sway while standing/sitting still (and on top of the slow transitions)
        st = self._swaying[idx]
        si_ = self._sitting[idx]
        for axis in range(2):
            off = np.where(st, self.sway_stand.offset(t, axis), 0.0)
            off += np.where(si_, self.sway_sit.offset(t, axis), 0.0)
            pos[:, axis] += off

        ch, sh = np.cos(head), np.sin(head)
        fwd = np.stack([ch, sh], axis=1)  # (T, 2)
        lat = np.stack([-sh, ch], axis=1)
        # body-frame coordinates of each point: (forward f, lateral l, height z), standing
        f = np.broadcast_to(_FWD, (T, N_POINTS)).copy()
        z = np.broadcast_to(_H, (T, N_POINTS)).copy()
        lat_off = np.broadcast_to(_LAT, (T, N_POINTS)).copy()
        # gait: arms and legs swing in anti-phase (+-0.25 m forward at the stride frequency),
        # the body bobs by +-2 cm at twice it
        g = 2 * math.pi * self.stride_hz * t + self.limb_phase
        sw = (0.25 * swing * np.sin(g))[:, None]
        f[:, _ARM] += sw * np.array([1.0, -1.0])
        f[:, _LEG] += sw * np.array([-1.0, 1.0])
        z += (0.02 * bob * np.sin(2 * g))[:, None]
        # sitting: hips drop to 0.45 m and move back 0.2 m; thighs go horizontal
        drop = (HIP_H - 0.45) * sit
        z[:, _UPPER | _ARM] -= drop[:, None]
        f[:, _UPPER | _ARM] -= (0.2 * sit)[:, None]
        f[:, _LEG] += (0.25 * sit)[:, None]
        z[:, _LEG] += (0.05 * sit)[:, None]
        # bending about the hips: points above the hip rotate forward by `bend`
        hip_z = HIP_H - drop
        above = (z - hip_z[:, None]) * (_UPPER | _ARM)
        cb, sb = np.cos(bend)[:, None], np.sin(bend)[:, None]
        up = _UPPER | _ARM
        f, z = (np.where(up, f * cb + above * sb, f),
                np.where(up, hip_z[:, None] + above * cb - f * sb, z))
        # toppling about the feet: height z and forward f rotate by `tilt`
        ct, st_ = np.cos(tilt)[:, None], np.sin(tilt)[:, None]
        f, z = f * ct + z * st_, np.maximum(0.05, z * ct - f * st_ + 0.12 * st_)
        xy = pos[:, None, :] + f[:, :, None] * fwd[:, None, :] + lat_off[:, :, None] * lat[:, None, :]
        P = np.concatenate([xy, z[:, :, None]], axis=2)
        # front normal: the body's forward direction, tilted/bent with it
        lean = np.where(_UPPER, (tilt + bend)[:, None], tilt[:, None])
        nf, nz = np.cos(lean), -np.sin(lean)
        N = np.concatenate([nf[:, :, None] * fwd[:, None, :], nz[:, :, None]], axis=2)
        side = _SIDE != 0.0  # the rib cage also widens sideways (bucket-handle motion)
        N[:, side, :2] = _SIDE[side][None, :, None] * lat[:, None, :]
        N[:, side, 2] = 0.0
        return P, N, vis

    def chest(self, t: np.ndarray) -> np.ndarray:
        """Breathing + heartbeat displacement of each point along its normal (T, P), m; the
        heartbeat is lost in the body's motion but the chest keeps breathing in every posture."""
        b = self.breath.displacement(t)[:, None] * BREATH_GAIN
        h = self.heart.displacement(t)[:, None] * HEART_GAIN
        return b + h

    # ---- truth ----
    def truth(self, t: float) -> tuple[bool, bool, float | None, float | None]:
        """(present, moving, breathing bpm, heart bpm): rates only while still, as the mean over
        the trailing WINDOW_S (or since the person became still)."""
        seg = self.segment(t)
        if seg.kind == AWAY:
            return False, False, None, None
        if seg.kind in MOVING_KINDS:
            return True, True, None, None
        t0 = max(seg.t0, t - WINDOW_S, 0.0)
        if t - t0 < 1.0:
            t0 = max(0.0, t - WINDOW_S)
        t1 = max(t, t0 + 1.0)  # at the very start: the first second's rate, never 0/0
        return True, False, self.breath.mean_bpm(t0, t1), self.heart.mean_bpm(t0, t1)

    def fall_times(self, until: float) -> list[float]:
        return [s.t0 for s in self.segments if s.kind == FALL and s.t0 <= until]
