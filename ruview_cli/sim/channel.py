"""The radio channel and the ESP32 receiver of the synthetic CSI: a room, the bodies in it, and
every impairment between the air and the int8 bytes the WiFi driver hands over.

Per subcarrier offset k (-32..31, 312.5 kHz apart around the centre frequency fc):

    H_k(t) = S_k · (1 - shadow(t) on the line of sight) + sum_points a_p e^{-j2π f_k L_p(t)/c}

Static channel S (IEEE 802.11 TGn channel models, Erceg et al., IEEE 802.11-03/940r4): a Rician
line-of-sight tap (K factor 0-6 dB, as TGn's LOS variants) plus 5-11 Rayleigh taps with an
exponential power-delay profile, scaled to an rms delay spread of 20-70 ns (TGn models B-D:
residential to large office, 15-50 ns; the issue's range). Mean |S|² over the band = 1.

Bodies (ruview_cli.sim.body): 8 reflecting points; point p's path TX -> p -> RX has length
L_p = |TX - P| + |P - RX| from the room geometry, moved by the chest displacement x along the
body's front normal n: ΔL = -x n·(u_TX + u_RX) (u: unit vectors from the point to the antennas),
at most twice the displacement. Amplitudes ∝ sqrt(cross-section)/(d_TX d_RX), scaled so the body
reflects `body_db` (-8 to -22 dB, the issue's range) below the static channel where the person
stands; each point a fixed random reflection phase. A body near the line of sight also shadows
it (first Fresnel zone, up to ~6 dB).

Receiver, per frame (facts on ESP32 CSI: Espressif, ESP-IDF programming guide "Wi-Fi Channel
State Information"; on phase impairments of commodity WiFi CSI: Kotaru et al., "SpotFi",
SIGCOMM 2015; Xie et al., "Precise Power Delay Profiling with Commodity WiFi", MobiCom 2015):
* a random common phase, uniform 0-2π (carrier frequency/phase offset);
* a random timing offset (packet detection delay): a linear phase slope across subcarriers,
  e^{-j2π k Δf τ}, τ = a fixed offset + per-frame uniform +-25 ns (half a 20 MHz sample);
* AGC: the gain steps by 1-6 dB (random sign) every 3-12 s (kept within +-6 dB of its target)
  plus 0.3 dB rms per-packet gain noise — the driver does not undo it;
* thermal noise: complex Gaussian, `snr_db` (10-30 dB) below the mean static power, added
  before the gain (it is amplified with the signal);
* int8 quantisation with clipping at -128/127, mean |H| ~24 LSB at the nominal gain;
* layout: each 64-bin training field in FFT order (bins 0..31 then -32..-1), each subcarrier a
  pair (imaginary, real); null subcarriers exactly 0 (L-LTF: DC and |k| >= 27; HT-LTF: DC and
  |k| >= 29); 128/192-subcarrier frames append the HT-LTF (and STBC-HT-LTF) of the same channel
  with independent noise.
"""

from __future__ import annotations

import math
import random

import numpy as np

C_LIGHT = 299_792_458.0
SUBCARRIER_SPACING_HZ = 312_500.0
OFFSETS = np.arange(-32, 32)  # subcarrier offsets, index = offset + 32
AGC_TARGET_LSB = 24.0
AGC_LIMIT_DB = 6.0
STO_JITTER_S = 25e-9


def channel_freq_mhz(channel: int) -> int:
    """Centre frequency of a WiFi channel (PROTOCOL.md §1.1)."""
    if 1 <= channel <= 13:
        return 2407 + 5 * channel
    if channel == 14:
        return 2484
    if 36 <= channel <= 177:
        return 5000 + 5 * channel
    raise ValueError(f"channel {channel} is not a 2.4 GHz (1-14) or 5 GHz (36-177) WiFi channel")


def esp32_layout(n_subcarriers: int) -> tuple[np.ndarray, np.ndarray]:
    """(index into the 64 offsets, used mask) for each reported subcarrier, ESP32 order."""
    idx, used = [], []
    for block in range(n_subcarriers // 64):
        edge = 27 if block == 0 else 29  # L-LTF: -26..26, HT-LTF (HT20): -28..28
        for i in range(64):
            off = i if i < 32 else i - 64
            idx.append(off + 32)
            used.append(off != 0 and abs(off) < edge)
    return np.array(idx), np.array(used)


class Room:
    """Geometry and static multipath of one room with one AP (TX) and one node (RX)."""

    def __init__(self, rng: random.Random, channel: int, *, k_db: float | None = None,
                 rms_ns: float | None = None, n_taps: int | None = None):
        self.width = rng.uniform(4.5, 8.0)
        self.depth = rng.uniform(3.5, 6.0)
        self.tx = np.array([0.3, rng.uniform(0.8, self.depth - 0.8), rng.uniform(0.8, 2.2)])
        self.rx = np.array([self.width - 0.3, rng.uniform(0.8, self.depth - 0.8), rng.uniform(0.7, 1.5)])
        self.door = (self.width / 2, self.depth + 0.6)
        self.fc = channel_freq_mhz(channel) * 1e6
        self.freqs = self.fc + OFFSETS * SUBCARRIER_SPACING_HZ
        self.k_db = rng.uniform(0.0, 6.0) if k_db is None else k_db
        self.rms_ns = rng.uniform(20.0, 70.0) if rms_ns is None else rms_ns
        n = rng.randint(5, 11) if n_taps is None else n_taps
        self.los_len = float(np.linalg.norm(self.tx - self.rx))
        # exponential power-delay profile: excess delays spread over ~4 decay constants
        K = 10.0 ** (self.k_db / 10.0)
        delays = np.sort([rng.uniform(5e-9, 4.0 * self.rms_ns * 1e-9) for _ in range(n)])
        gains = np.array([complex(rng.gauss(0, 1), rng.gauss(0, 1)) / math.sqrt(2) for _ in range(n)])
        pw = np.exp(-delays / (self.rms_ns * 1e-9))
        gains *= np.sqrt(pw / pw.sum() / (K + 1.0))
        los = math.sqrt(K / (K + 1.0)) * np.exp(1j * rng.uniform(0, 2 * math.pi))
        # scale the excess delays so the realised rms delay spread is the drawn one
        p_all = np.concatenate([[abs(los) ** 2], np.abs(gains) ** 2])
        d_all = np.concatenate([[0.0], delays])
        mean = (p_all * d_all).sum() / p_all.sum()
        rms = math.sqrt(max(1e-30, (p_all * (d_all - mean) ** 2).sum() / p_all.sum()))
        delays *= self.rms_ns * 1e-9 / rms
        tau0 = self.los_len / C_LIGHT
        self.los = los * np.exp(-2j * np.pi * self.freqs * tau0)
        nlos = (gains[:, None] * np.exp(-2j * np.pi * self.freqs[None, :] * (tau0 + delays[:, None]))).sum(0)
        static = self.los + nlos
        _, used = esp32_layout(64)
        norm = math.sqrt(np.mean(np.abs(static[(OFFSETS != 0) & (np.abs(OFFSETS) < 27)]) ** 2))
        self.static = static / norm
        self.los = self.los / norm

    def ripple_db(self) -> float:
        """Max/min |S| over the used band: how frequency-selective the empty room is."""
        m = np.abs(self.static[(OFFSETS != 0) & (np.abs(OFFSETS) < 27)])
        return float(20.0 * math.log10(m.max() / max(1e-9, m.min())))

    def random_spot(self, rng: random.Random) -> tuple[float, float]:
        """Somewhere in the room, away from the walls and the line of sight."""
        for _ in range(100):
            p = (rng.uniform(0.8, self.width - 0.8), rng.uniform(0.6, self.depth - 0.6))
            if self.los_distance(np.array([p[0], p[1], 1.2])) > 0.7:
                return p
        return p

    def random_waypoint(self, rng: random.Random) -> tuple[float, float]:
        return (rng.uniform(0.5, self.width - 0.5), rng.uniform(0.5, self.depth - 0.5))

    def los_distance(self, P: np.ndarray) -> np.ndarray:
        """Distance of points (..., 3) from the TX-RX segment."""
        d = self.rx - self.tx
        u = np.clip(((P - self.tx) @ d) / (d @ d), 0.0, 1.0)
        return np.linalg.norm(P - (self.tx + u[..., None] * d), axis=-1)

    def paths(self, P: np.ndarray, N: np.ndarray, x: np.ndarray):
        """Path lengths (T, P) of the points P (T, P, 3) with chest displacement x (T, P) along
        the normals N, and the 1/(d_TX d_RX) spreading factor (T, P)."""
        a = self.tx - P
        b = self.rx - P
        d1 = np.linalg.norm(a, axis=-1)
        d2 = np.linalg.norm(b, axis=-1)
        proj = (N * (a / d1[..., None] + b / d2[..., None])).sum(-1)
        return d1 + d2 - x * proj, 1.0 / (d1 * d2)

    def shadow(self, P: np.ndarray) -> np.ndarray:
        """Fraction (T,) of the line-of-sight amplitude a body blocks: its torso point inside
        the first Fresnel zone (radius sqrt(λ d1 d2 / d)) blocks up to half the amplitude."""
        lam = C_LIGHT / self.fc
        d = self.los_len
        u = np.clip(((P - self.tx) @ (self.rx - self.tx)) / (d * d), 0.02, 0.98)
        r = np.sqrt(lam * (u * d) * ((1 - u) * d) / d)
        return 0.5 * np.exp(-(self.los_distance(P) / r) ** 2)

    def channel(self, bodies: list[tuple], times: np.ndarray) -> np.ndarray:
        """True channel (T, 64) at the offsets -32..31. bodies: (points P, normals N, chest x,
        visibility vis, amplitude scale g, point phases) per person."""
        H = np.broadcast_to(self.static, (len(times), 64)).copy()
        block = np.zeros(len(times))
        for P, N, x, vis, g, phases in bodies:
            if not vis.any():
                continue
            L, spread = self.paths(P, N, x)
            amp = g * spread * vis[:, None] * np.exp(1j * phases)[None, :]  # (T, P)
            H += (amp[:, :, None] * np.exp(-2j * np.pi * self.freqs[None, None, :] * (L / C_LIGHT)[:, :, None])).sum(1)
            block = np.maximum(block, self.shadow(P[:, 0, :]) * vis)
        if block.any():
            H -= block[:, None] * self.los[None, :]
        return H


class Receiver:
    """The ESP32 side: CFO/STO, AGC, thermal noise, int8 quantisation and the driver's layout."""

    def __init__(self, rng: random.Random, n_subcarriers: int, snr_db: float, agc: bool):
        self.rng = rng
        self.np_rng = np.random.default_rng(rng.getrandbits(64))
        self.agc_rng = random.Random(rng.getrandbits(64))  # the AGC schedule: a function of time
        self.idx, self.used = esp32_layout(n_subcarriers)
        self.n = n_subcarriers
        self.noise_sigma = 10.0 ** (-snr_db / 20.0) / math.sqrt(2.0)
        self.sto0 = rng.uniform(-100e-9, 100e-9)
        self.agc = agc
        self.agc_times = [0.0]
        self.agc_db = [0.0]

    def gain_db(self, t: np.ndarray) -> np.ndarray:
        """The AGC's stepwise gain (dB) at times t: steps of 1-6 dB every 3-12 s."""
        if not self.agc:
            return np.zeros_like(t)
        r = self.agc_rng
        while self.agc_times[-1] <= float(np.max(t)):
            step = r.uniform(1.0, 6.0) * r.choice((-1.0, 1.0))
            g = self.agc_db[-1] + step
            if abs(g) > AGC_LIMIT_DB:
                g = self.agc_db[-1] - step
            self.agc_times.append(self.agc_times[-1] + r.uniform(3.0, 12.0))
            self.agc_db.append(g)
        i = np.searchsorted(np.asarray(self.agc_times), t, side="right") - 1
        return np.asarray(self.agc_db)[i]

    def frames(self, H: np.ndarray, times: np.ndarray) -> list[bytes]:
        """int8 (imag, real) bytes of each frame of the true channel H (T, 64)."""
        T = len(times)
        g = self.np_rng
        gain_db = self.gain_db(times)
        if self.agc:
            gain_db = gain_db + g.normal(0.0, 0.3, T)
        gain = AGC_TARGET_LSB * 10.0 ** (gain_db / 20.0)
        cpe = g.uniform(0.0, 2 * np.pi, T)
        sto = self.sto0 + g.uniform(-STO_JITTER_S, STO_JITTER_S, T)
        rot = np.exp(1j * (cpe[:, None] - 2 * np.pi * SUBCARRIER_SPACING_HZ * sto[:, None] * OFFSETS[None, :]))
        Z = (H * rot)[:, self.idx]  # (T, n) in ESP32 order
        Z = Z + self.noise_sigma * (g.standard_normal((T, self.n)) + 1j * g.standard_normal((T, self.n)))
        Z = Z * gain[:, None] * self.used[None, :]
        out = np.empty((T, 2 * self.n), dtype=np.int8)
        out[:, 0::2] = np.clip(np.rint(Z.imag), -128, 127)
        out[:, 1::2] = np.clip(np.rint(Z.real), -128, 127)
        return [row.tobytes() for row in out]
