"""Anomalies in a community's hourly health metrics, against its own seasonal baseline.

Pure logic over small JSON-friendly state (no Kafka, no Faust, no clock): the
wiring keeps one :class:`Baseline` per (community, metric) in a table, calls
:func:`observe` with the open hour's running value (repeatedly, as it grows)
and with the final value when the hour closes, publishes an
:func:`anomaly_record` for every verdict with an ``event`` and saves the state.

Method, and why
---------------

*Expected value.*  Communities are busy at 9:00, 12:00 and 20:00 Beijing time,
quiet at night and different at weekends, so a count keeps one level per
seasonal slot: (day class, local hour), the day class being workday or rest
day (Saturday, Sunday and the calendar's extra rest days, minus its worked
weekend days: 调休).  Each level is an EWMA of the slot's final values
(``alpha`` per value, plain means for the first ones).  48 levels need no
model of the daily shape and follow slow growth or decline.  A share
(negative / scored messages) is not driven by the traffic rhythm and night
hours have few scored messages, so it keeps one level for all hours: the
ratio of exponentially weighted sums of numerators and denominators.

*Scale.*  Activity is bursty: a group's rate swings by a *factor* from one
hour to the next (a conversation takes off, a live session starts), so counts
are compared on a log scale, ``u = log((x + 1) / (mu + 1))``, and shares on a
logit scale.  On a linear scale the same noise makes a 3x burst look like a
5-sigma event and a 60% drop like a 2-sigma one.  The variance of ``u`` is
``phi * a + s²``: the sampling part (``a = mu / (mu + 1)²`` for a count,
``1 / (n p (1 - p))`` for a share; ``phi`` >= 1 for runs of messages from one
member) plus the swings of the rate itself (``s²``).  ``phi`` and ``s²`` are
fitted per (community, metric) by weighted least squares of squared final
errors on ``a``, pooled over all hours from five exponentially weighted sums:
every hour informs them (a slot is seen five or two times a week), quiet hours
pin ``phi`` and busy hours ``s²``.  The errors are one-step predictions, so
the baseline's own estimation error is part of the variance, as it should be.
A large community is not expected to be steadier than ``s = 5%``.

*Score.*  The sampling part is judged by the exact tail beyond the
observation (negative binomial with variance ``phi * mu`` for a count,
binomial on ``n / phi`` trials for a share): the normal approximation
underrates small counts (3 leaves when 0.2 are expected is a 1-in-900 event,
not the 6 sigma it says) and a zero from an overdispersed 12 is likelier than
from a Poisson 12.  The tail's z gives the sampling spread ``u / z_tail``,
combined with the swings: ``deviation = u / sqrt((u / z_tail)² + s²)``, capped
at 12.  For large counts this is ``u / sd``; for small ones the tail rules.

*Partial hours.*  The running value at ``fraction`` f of the hour is compared
with ``f * mu`` (pro rata): the sampling part follows from the smaller count,
and the rate's swings get ``s² * f ** -partial_exponent``.  Swings lasting the
whole hour mean exponent 0, independent minutes 1; chat moods last tens of
minutes (the stream generator's: an AR(1) with a 50-minute memory), so a
quarter hour swings little more than the hour and the default is 0: the
earliest partial values can open an anomaly.  Distinct counts (active
members) run ahead of pro rata within an hour, which makes an early drop look
smaller: conservative.  Drops are judged from ``drop_min_fraction`` (half) of
the hour: a missing conversation shows late, and the first quarter of an hour
is often quiet.  Only final values teach the baseline.

*Alerting.*  Two rules open an anomaly, once the detector is warm
(``warmup_hours``, one week, of final hours and ``min_slot_obs`` values in the
slot, so the weekend slots arm on the second weekend): one evaluation beyond
``z_open`` (3.5) in an allowed direction, a partial one included (fast: a 4x
burst of messages shows in 15 minutes), or a one-sided CUSUM of final hours'
scores (each clipped at ``z_open``, minus ``cusum_k`` = 1.5) reaching
``cusum_h`` = 4 (persistent: hours at -60% that one by one stay under
``z_open``).  A smaller ``cusum_k`` finds more multi-hour drops and raises
false alerts: days run above or below their average as a whole.  Either rule
also needs the change to be at least ``min_abs`` (counts; share points for a
share) and ``min_rel`` of the expected value: a quiet group going from 2
messages to 0 at 3 a.m. is nobody's problem however improbable.  An anomaly
stays open while evaluations stay beyond ``z_close`` and half of each other
gate (hysteresis), and resolves after ``resolve_hours`` (2) consecutive *final*
hours that are not: one calmer hour inside a long anomaly does not end it,
and a partial hour holds too little evidence to resolve anything.  Severity
is ``critical`` from ``z_critical``.  One anomaly per (community, metric) at
a time.  Final values are clipped at ``clip`` standard deviations before they
teach the baseline (once warm), so an anomaly moves it little and a lasting
change is absorbed within days, ending the anomaly.

*Costs.*  With hourly swings of ``s = 0.3`` (the generator's mood), 4x is
about 4.5 sd and -60% about 3 sd of one hour: ``z_open``, ``cusum_k`` and the
gates trade false alerts against detections; ``pipeline.compute.
anomaly_quality`` measures both.

*Idempotence.*  Partial values change no baseline and lifecycle transitions
fire only on a change of state, so the same partial twice gives one event at
most (the CUSUMs take final hours only).  The state keeps the last final
hour: a value for an hour at or before it is stale, reported and ignored.
``anomaly_id`` is ``community|metric|opening hour start``: a replay after a
crash reproduces it.

Inputs must be complete: the caller emits a final value (0 if nothing
happened) for every hour, otherwise a drop to zero is never seen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from statistics import NormalDist
from typing import Any, Literal
from zoneinfo import ZoneInfo

HOUR_MS = 3_600_000
DEFAULT_ZONE = "Asia/Shanghai"
SLOTS = 48
"""24 local hours of workdays, then 24 of rest days."""

Direction = Literal["drop", "spike", "both"]
Kind = Literal["count", "ratio"]
Severity = Literal["warning", "critical"]
Event = Literal["opened", "resolved"]

Z_CAP = 12.0
"""Scores are capped: beyond this, precision means nothing to an operator."""
SMOOTHING = 1.0
"""Added to counts before the log: keeps zeros finite and quiet hours calm."""
SWING_FLOOR = 0.05**2
"""The least hour-to-hour variance of a log rate: no community is steadier than 5%."""
PHI_MAX = 10.0
_PRIOR_SWING = 0.1
"""Variance of a log rate assumed before any fit (never alerted on: warm-up is longer)."""
_FIT_MIN = 12
_SEEN_CAP = 100
_EXACT_UP_TO = 1_000
"""Exact tails up to this mean count (or denominator); the normal approximation beyond."""
_MAX_TERMS = 20_000
"""Terms summed in an exact tail; beyond, the sum is a lower bound (a larger z)."""
_NORMAL = NormalDist()


@dataclass(frozen=True)
class SeasonCalendar:
    """Which seasonal slot an hour belongs to: local hour and workday / rest day.

    ``rest_days``: extra rest days (public holidays); ``work_days``: weekend
    days that are worked (调休).  The zone needs whole-hour offsets so hours
    stay aligned (China's is UTC+8, without daylight saving time).
    """

    zone: str = DEFAULT_ZONE
    rest_days: frozenset[date] = frozenset()
    work_days: frozenset[date] = frozenset()

    def slot(self, hour_start_ms: int) -> int:
        local = datetime.fromtimestamp(hour_start_ms / 1000, ZoneInfo(self.zone))
        day = local.date()
        rest = day in self.rest_days or (local.weekday() >= 5 and day not in self.work_days)
        return (24 if rest else 0) + local.hour


DEFAULT_CALENDAR = SeasonCalendar()


@dataclass(frozen=True)
class MetricSpec:
    """One metric: what counts as anomalous, and how fast its baseline learns.

    ``min_abs`` is in the metric's unit (counts, or share points for a ratio);
    ``min_rel`` is a fraction of the expected value; ``alpha`` weighs a new
    final value in its slot's level (a ratio: in its single level, per hour);
    ``pooled_alpha`` weighs an hour in the variance fit.  The module
    docstring says why the defaults are what they are.
    """

    name: str
    direction: Direction
    kind: Kind = "count"
    seasonal: bool = True
    alpha: float = 0.25
    pooled_alpha: float = 0.005
    partial_exponent: float = 0.0
    z_open: float = 3.5
    z_close: float = 2.0
    z_critical: float = 6.0
    cusum_k: float = 1.5
    cusum_h: float = 4.0
    min_abs: float = 5.0
    min_rel: float = 0.3
    min_fraction: float = 0.1
    drop_min_fraction: float = 0.5
    min_denominator: float = 10.0
    warmup_hours: int = 168
    min_slot_obs: int = 3
    resolve_hours: int = 2
    clip: float = 3.0

    def __post_init__(self) -> None:
        if self.direction not in ("drop", "spike", "both"):
            raise ValueError(f"direction must be drop, spike or both, not {self.direction!r}")
        if self.kind not in ("count", "ratio"):
            raise ValueError(f"kind must be count or ratio, not {self.kind!r}")
        if self.kind == "ratio" and self.seasonal:
            raise ValueError("a ratio metric keeps one level for all hours (seasonal=False)")
        if not 0 < self.z_close < self.z_open <= self.z_critical:
            raise ValueError("need 0 < z_close < z_open <= z_critical")
        if self.resolve_hours < 1 or self.cusum_h <= 0:
            raise ValueError("resolve_hours and cusum_h must be positive")

    def allows(self, sign: int) -> bool:
        return self.direction == "both" or (self.direction == "spike") == (sign > 0)


HEALTH_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("active_members", "drop", min_abs=5, min_rel=0.3),
    MetricSpec("messages", "both", min_abs=10, min_rel=0.4),
    MetricSpec("leaves", "spike", min_abs=3, min_rel=1.0),
    MetricSpec("negative_share", "spike", kind="ratio", seasonal=False, alpha=0.01,
               min_abs=0.1, min_rel=0.5, min_denominator=10),
    MetricSpec("joins", "drop", min_abs=5, min_rel=0.5),
)
"""The five community-health metrics: active members (real interactions), messages,
leaves, negative share (negative / scored messages) and joins."""

METRICS_BY_NAME: dict[str, MetricSpec] = {spec.name: spec for spec in HEALTH_METRICS}


@dataclass(slots=True)
class Anomaly:
    """The open anomaly of one (community, metric), and its worst evaluation so far.

    ``opened_ms``: start of the hour it opened in, at ``opened_fraction`` of it;
    ``onset_ms``: start of the first hour of the evidence (earlier than
    ``opened_ms`` when several hours added up); ``normal_since_ms``: start of
    the first of the normal final hours counting towards resolution.
    """

    opened_ms: int
    opened_fraction: float
    onset_ms: int
    direction: int
    peak_deviation: float
    peak_expected: float
    peak_observed: float
    peak_hour_ms: int
    peak_fraction: float
    severity: Severity
    normal_finals: int = 0
    normal_since_ms: int | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"o": self.opened_ms, "of": self.opened_fraction, "on": self.onset_ms,
                "d": self.direction, "pz": self.peak_deviation, "pe": self.peak_expected,
                "po": self.peak_observed, "ph": self.peak_hour_ms, "pf": self.peak_fraction,
                "s": self.severity, "nf": self.normal_finals, "ns": self.normal_since_ms}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Anomaly:
        return cls(int(data["o"]), float(data["of"]), int(data["on"]), int(data["d"]),
                   float(data["pz"]), float(data["pe"]), float(data["po"]), int(data["ph"]),
                   float(data["pf"]), data["s"], int(data["nf"]),
                   None if data["ns"] is None else int(data["ns"]))


@dataclass(slots=True)
class Baseline:
    """Everything the detector remembers about one (community, metric).

    A count: 48 slot ``level`` values and how many values each has ``seen``
    (capped at 100); a share: ``num`` / ``den``, EW sums.  Both: ``fit``, the
    five EW sums of the variance fit over ``fitted`` hours, the two one-sided
    CUSUMs (``cusum``: spike, drop) and the hours they started, the last final
    hour, and the open anomaly: about 120 numbers, 1-2 kB of JSON.  Sized on
    first use, so ``Baseline()`` is a valid empty state.
    """

    level: list[float] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)
    hours: int = 0
    last_final_ms: int | None = None
    fit: list[float] = field(default_factory=lambda: [0.0] * 5)
    fitted: int = 0
    num: float = 0.0
    den: float = 0.0
    cusum: list[float] = field(default_factory=lambda: [0.0, 0.0])
    cusum_from: list[int | None] = field(default_factory=lambda: [None, None])
    anomaly: Anomaly | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"v": 1, "l": list(self.level), "n": list(self.seen), "h": self.hours,
                "lf": self.last_final_ms, "f": list(self.fit), "fn": self.fitted,
                "nu": self.num, "de": self.den, "c": list(self.cusum),
                "cf": list(self.cusum_from),
                "a": None if self.anomaly is None else self.anomaly.to_wire()}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any] | None) -> Baseline:
        if not data:
            return cls()
        if data.get("v") != 1:
            raise ValueError(f"unknown baseline version {data.get('v')!r}")
        return cls(
            [float(x) for x in data["l"]], [int(x) for x in data["n"]], int(data["h"]),
            None if data["lf"] is None else int(data["lf"]), [float(x) for x in data["f"]],
            int(data["fn"]), float(data["nu"]), float(data["de"]),
            [float(x) for x in data["c"]], [None if x is None else int(x) for x in data["cf"]],
            None if data["a"] is None else Anomaly.from_wire(data["a"]),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """How one observation compares with the baseline, and what it did to the lifecycle.

    ``expected`` and ``observed`` are in the observed window's terms: counts
    so far against the pro rata expectation for a partial hour, shares for a
    ratio.  ``severity`` is set when this observation is alarming on its own
    (or completes a CUSUM alarm).  ``anomaly``: the open anomaly after this
    observation, or the one it resolved.  ``stale``: the hour was already
    final; nothing changed.
    """

    metric: str
    hour_start_ms: int
    fraction: float
    final: bool
    expected: float
    observed: float
    deviation: float
    severity: Severity | None
    event: Event | None
    warm: bool
    stale: bool
    anomaly: Anomaly | None

    @property
    def status(self) -> Literal["open", "resolved"] | None:
        if self.event == "resolved":
            return "resolved"
        return "open" if self.anomaly is not None else None


@dataclass(frozen=True, slots=True)
class _Score:
    expected: float
    observed: float
    deviation: float
    u: float
    """The error on the log (logit) scale."""
    sd: float
    """Its standard deviation by the variance model (the deviation uses exact tails)."""
    evidence: bool
    """Enough data to judge (a ratio: enough scored messages)."""

    @property
    def delta(self) -> float:
        return self.observed - self.expected


def observe(
    state: Baseline,
    spec: MetricSpec,
    hour_start_ms: int,
    value: float,
    fraction: float = 1.0,
    final: bool = True,
    denominator: float | None = None,
    calendar: SeasonCalendar = DEFAULT_CALENDAR,
) -> Verdict:
    """Judge one value of one hour, update ``state`` in place and say what happened.

    ``value``: the hour's count so far (a ratio: the share so far, with
    ``denominator`` its scored messages); ``fraction``: how much of the hour
    it covers; ``final``: the hour is closed (``fraction`` is then 1).  Only
    final values teach the baseline, once per hour.
    """
    if hour_start_ms % HOUR_MS:
        raise ValueError(f"hour_start_ms {hour_start_ms} is not the start of an hour")
    if final:
        fraction = 1.0
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], not {fraction}")
    if spec.kind == "ratio" and denominator is None:
        raise ValueError(f"{spec.name} is a ratio: pass its denominator")
    if value < 0 or (denominator is not None and denominator < 0):
        raise ValueError("values and denominators are never negative")
    if spec.kind == "ratio" and value > 1:
        raise ValueError(f"{spec.name} is a share: {value} is above 1")
    value = float(value)
    denominator = None if denominator is None else float(denominator)
    _size(state, spec)
    slot = calendar.slot(hour_start_ms) if spec.seasonal else 0
    score = _score(state, spec, slot, value, fraction, denominator)
    warm = _warm(state, spec, slot)
    if state.last_final_ms is not None and hour_start_ms <= state.last_final_ms:
        return Verdict(spec.name, hour_start_ms, fraction, final, score.expected, score.observed,
                       score.deviation, None, None, warm, True, _copy(state.anomaly))

    sign = 1 if score.deviation > 0 else -1
    judged = (warm and score.evidence
              and fraction >= (spec.min_fraction if sign > 0 else spec.drop_min_fraction))
    severity: Severity | None = None
    if judged and spec.allows(sign) and _beyond(spec, score, 1.0):
        severity = "critical" if abs(score.deviation) >= spec.z_critical else "warning"
    onset_ms = hour_start_ms
    if final and judged and state.anomaly is None:
        onset_ms = _accumulate(state, spec, hour_start_ms, score.deviation)
        if (severity is None and spec.allows(sign) and state.cusum[sign < 0] >= spec.cusum_h
                and _beyond(spec, score, 1.0, spec.z_close)):
            severity = "warning"
        if severity is None:
            onset_ms = hour_start_ms

    event: Event | None = None
    anomaly = state.anomaly
    if anomaly is None:
        if severity is not None:
            state.anomaly = anomaly = Anomaly(
                hour_start_ms, fraction, onset_ms, sign, score.deviation, score.expected,
                score.observed, hour_start_ms, fraction, severity)
            state.cusum, state.cusum_from = [0.0, 0.0], [None, None]
            event = "opened"
    elif hour_start_ms >= anomaly.opened_ms:
        if (judged and sign == anomaly.direction
                and _beyond(spec, score, 0.5, spec.z_close)):
            anomaly.normal_finals, anomaly.normal_since_ms = 0, None
            if abs(score.deviation) > abs(anomaly.peak_deviation):
                anomaly.peak_deviation = score.deviation
                anomaly.peak_expected, anomaly.peak_observed = score.expected, score.observed
                anomaly.peak_hour_ms, anomaly.peak_fraction = hour_start_ms, fraction
            if severity == "critical":
                anomaly.severity = "critical"
        elif final:
            if anomaly.normal_finals == 0:
                anomaly.normal_since_ms = hour_start_ms
            anomaly.normal_finals += 1
            if anomaly.normal_finals >= spec.resolve_hours:
                state.anomaly = None
                event = "resolved"

    if final:
        _learn(state, spec, slot, value, denominator, score)
        state.last_final_ms = hour_start_ms
        state.hours += 1
    return Verdict(spec.name, hour_start_ms, fraction, final, score.expected, score.observed,
                   score.deviation, severity, event, warm, False, _copy(anomaly))


def _copy(anomaly: Anomaly | None) -> Anomaly | None:
    return None if anomaly is None else replace(anomaly)


def _size(state: Baseline, spec: MetricSpec) -> None:
    slots = (SLOTS if spec.seasonal else 1) if spec.kind == "count" else 0
    if len(state.level) != slots:
        if state.level or state.hours:
            raise ValueError(f"state has {len(state.level)} slots, {spec.name} needs {slots}")
        state.level, state.seen = [0.0] * slots, [0] * slots


def _warm(state: Baseline, spec: MetricSpec, slot: int) -> bool:
    if state.hours < spec.warmup_hours:
        return False
    return spec.kind == "ratio" or state.seen[slot] >= spec.min_slot_obs


def _beyond(spec: MetricSpec, score: _Score, share: float, z: float | None = None) -> bool:
    """Every gate passed: the score beyond ``z`` (default ``z_open``), the change at
    least ``share`` of ``min_abs`` and of ``min_rel``."""
    size = abs(score.delta)
    return (abs(score.deviation) >= (spec.z_open if z is None else z)
            and size >= share * spec.min_abs
            and size >= share * spec.min_rel * score.expected)


def _accumulate(state: Baseline, spec: MetricSpec, hour_start_ms: int, z: float) -> int:
    """Add a final hour's score to both CUSUMs; the onset of the one ``z`` feeds."""
    clipped = min(max(z, -spec.z_open), spec.z_open)
    for side, sign in ((0, 1), (1, -1)):
        total = state.cusum[side] + sign * clipped - spec.cusum_k
        if total <= 0 or not spec.allows(sign):
            state.cusum[side], state.cusum_from[side] = 0.0, None
            continue
        if state.cusum_from[side] is None:
            state.cusum_from[side] = hour_start_ms
        state.cusum[side] = total
    onset = state.cusum_from[z < 0]
    return hour_start_ms if onset is None else onset


def _dispersion(state: Baseline) -> tuple[float, float]:
    """``(phi, s²)`` of ``var(u) = phi * a + s²``, the weighted least-squares fit."""
    if state.fitted < _FIT_MIN:
        return 1.0, _PRIOR_SWING
    s0, s1, s2, t0, t1 = state.fit
    phi = 1.0
    det = s2 * s0 - s1 * s1
    if det > 1e-9 * s2 * s0:
        phi = (t1 * s0 - s1 * t0) / det
    phi = min(max(phi, 1.0), PHI_MAX)
    return phi, max((t0 - phi * s1) / s0, SWING_FLOOR)


def _fit(state: Baseline, spec: MetricSpec, a: float, u: float) -> None:
    rate = max(spec.pooled_alpha, 1 / (state.fitted + 1))
    weight = 1 / (a + _PRIOR_SWING) ** 2
    y = u * u
    for i, x in enumerate((weight, weight * a, weight * a * a, weight * y, weight * a * y)):
        state.fit[i] += rate * (x - state.fit[i])
    state.fitted = min(state.fitted + 1, 1_000_000)


def _score(state: Baseline, spec: MetricSpec, slot: int, value: float, fraction: float,
           denominator: float | None) -> _Score:
    phi, swing = _dispersion(state)
    swing *= fraction ** -spec.partial_exponent
    if spec.kind == "ratio":
        return _score_ratio(state, spec, value, denominator or 0.0, phi, swing)
    expected = state.level[slot] * fraction
    u = math.log((value + SMOOTHING) / (expected + SMOOTHING))
    sd = math.sqrt(phi * expected / (expected + SMOOTHING) ** 2 + swing)
    tail = _count_tail_z(value, expected, phi * expected)
    return _Score(expected, value, _combined(u, tail, swing, value - expected), u, sd, True)


def _score_ratio(state: Baseline, spec: MetricSpec, share: float, n: float, phi: float,
                 swing: float) -> _Score:
    if state.den <= 0:
        return _Score(share, share, 0.0, 0.0, 0.0, False)
    p = _long_share(state)
    if n <= 0:
        return _Score(p, share, 0.0, 0.0, 0.0, False)
    smoothed = (share * n + 0.5) / (n + 1)
    u = _logit(smoothed) - _logit(p)
    sd = math.sqrt(phi / ((n + 1) * p * (1 - p)) + swing)
    tail = _share_tail_z(share * n / phi, n / phi, p)
    return _Score(p, share, _combined(u, tail, swing, share - p), u, sd,
                  n >= spec.min_denominator)


def _combined(u: float, tail: float, swing: float, delta: float) -> float:
    """The deviation: ``u`` over the sampling spread the exact tail implies, combined
    with the rate's swings; 0 when the tail finds nothing or disagrees on the side."""
    if delta == 0 or tail == 0 or u == 0 or (u > 0) != (delta > 0) or (tail > 0) != (delta > 0):
        return 0.0
    sampling = (u / tail) ** 2
    return math.copysign(min(abs(u) / math.sqrt(sampling + swing), Z_CAP), delta)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _long_share(state: Baseline) -> float:
    return min(max(state.num / state.den, 1e-4), 1 - 1e-4)


def _clipped(state: Baseline, spec: MetricSpec, score: _Score) -> float:
    """The final error that teaches the baseline: clipped at ``clip`` sd once warm."""
    if state.hours < spec.warmup_hours:
        return score.u
    bound = spec.clip * score.sd
    return min(max(score.u, -bound), bound)


def _learn(state: Baseline, spec: MetricSpec, slot: int, value: float,
           denominator: float | None, score: _Score) -> None:
    """Fold a final value into the baseline and the variance fit."""
    if spec.kind == "ratio":
        _learn_ratio(state, spec, value, denominator or 0.0, score)
        return
    seen = state.seen[slot]
    if seen == 0:
        state.level[slot] = value
        state.seen[slot] = 1
        return
    level = state.level[slot]
    u = _clipped(state, spec, score)
    taught = (level + SMOOTHING) * math.exp(u) - SMOOTHING
    state.level[slot] = max(0.0, level + max(spec.alpha, 1 / (seen + 1)) * (taught - level))
    state.seen[slot] = min(seen + 1, _SEEN_CAP)
    _fit(state, spec, level / (level + SMOOTHING) ** 2, u)


def _learn_ratio(state: Baseline, spec: MetricSpec, share: float, n: float,
                 score: _Score) -> None:
    if n <= 0:
        return
    if state.den <= 0:
        state.num, state.den = share * n, n
        return
    p = _long_share(state)
    u = _clipped(state, spec, score)
    taught = _expit(_logit(p) + u)
    rate = max(spec.alpha, 1 / (state.fitted + 2))
    state.num += rate * (taught * n - state.num)
    state.den += rate * (n - state.den)
    _fit(state, spec, 1 / ((n + 1) * p * (1 - p)), u)


# Exact tails, as z-scores ------------------------------------------------------------


def _z_of_log_tail(log_p: float) -> float:
    """The z whose upper normal tail is ``exp(log_p)``; 0 for unremarkable tails."""
    if log_p < -700:
        return Z_CAP
    p = math.exp(log_p)
    if p >= 0.5:
        return 0.0
    return min(-_NORMAL.inv_cdf(p), Z_CAP)


def _tail_z(log_pmf: float, ratio: Callable[[int], float], start: int, stop: int,
            step: int) -> float:
    """z of the tail from ``start`` towards ``stop``: terms follow ``pmf(j+step) / pmf(j)``."""
    total, term, j = 1.0, 1.0, start
    for _ in range(_MAX_TERMS):
        if j == stop:
            break
        term *= ratio(j)
        j += step
        total += term
        if term < 1e-12 * total:
            break
    return _z_of_log_tail(log_pmf + math.log(total))


def _count_tail_z(x: float, mu: float, var: float) -> float:
    """Signed z of count ``x`` from the exact tail of a negative binomial with mean ``mu``
    and variance ``var`` (Poisson when ``var <= mu``): runs of messages from one member."""
    mu = max(mu, 1e-3)
    if mu > _EXACT_UP_TO:
        return _normal_z(x, mu, var)
    if x > mu:
        k = math.floor(x)
        sign = 1
        if k <= mu:
            return 0.0
    elif x < mu:
        k = math.ceil(x)
        sign = -1
        if k >= mu:
            return 0.0
    else:
        return 0.0
    if var <= mu * (1 + 1e-9):
        log_pmf = k * math.log(mu) - mu - math.lgamma(k + 1)
        if sign > 0:
            return _tail_z(log_pmf, lambda j: mu / (j + 1), k, -1, 1)
        return -_tail_z(log_pmf, lambda j: j / mu, k, 0, -1)
    r = mu * mu / (var - mu)
    q = mu / (r + mu)
    log_pmf = (math.lgamma(k + r) - math.lgamma(r) - math.lgamma(k + 1)
               + r * math.log1p(-q) + k * math.log(q))
    if sign > 0:
        return _tail_z(log_pmf, lambda j: (j + r) / (j + 1) * q, k, -1, 1)
    return -_tail_z(log_pmf, lambda j: j / ((j - 1 + r) * q), k, 0, -1)


def _share_tail_z(k: float, n: float, p: float) -> float:
    """Signed z of ``k`` successes in ``n`` trials of probability ``p`` (exact tail)."""
    n_int = max(int(round(n)), 0)
    mean = n_int * p
    if n_int > _EXACT_UP_TO:
        return _normal_z(k, mean, n * p * (1 - p))
    if k > mean:
        j = min(math.floor(k + 1e-9), n_int)
        if j <= mean:
            return 0.0
    elif k < mean:
        j = max(math.ceil(k - 1e-9), 0)
        if j >= mean:
            return 0.0
    else:
        return 0.0
    odds = p / (1 - p)
    log_pmf = (math.lgamma(n_int + 1) - math.lgamma(j + 1) - math.lgamma(n_int - j + 1)
               + j * math.log(p) + (n_int - j) * math.log1p(-p))
    if k > mean:
        return _tail_z(log_pmf, lambda i: (n_int - i) / (i + 1) * odds, j, n_int, 1)
    return -_tail_z(log_pmf, lambda i: i / (n_int - i + 1) / odds, j, 0, -1)


def _normal_z(x: float, mean: float, var: float) -> float:
    """Large counts: the normal approximation, with a continuity correction."""
    gap = max(abs(x - mean) - 0.5, 0.0)
    return math.copysign(min(gap / math.sqrt(max(var, 1e-12)), Z_CAP), x - mean)


# What an alert needs -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnomalyRecord:
    """The fields of an anomaly alert; consumers keep the latest per ``anomaly_id``.

    ``window_start_ms``: start of the hour the anomaly opened in.
    ``window_end_ms``: when opened, how far into that hour the evidence went;
    when resolved, the start of the first normal hour.  ``expected``,
    ``observed`` and ``deviation``: the opening evaluation, or the worst one
    once resolved; ``fraction``: the share of its hour they cover.
    """

    anomaly_id: str
    community_id: str
    metric: str
    direction: Literal["drop", "spike"]
    status: Literal["open", "resolved"]
    event: Event
    window_start_ms: int
    window_end_ms: int
    expected: float
    observed: float
    deviation: float
    fraction: float
    severity: Severity

    def to_wire(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def anomaly_id(community_id: str, metric: str, opened_ms: int) -> str:
    """Deterministic: a replay of the same input opens the same anomaly id."""
    return f"{community_id}|{metric}|{opened_ms}"


def anomaly_record(community_id: str, verdict: Verdict) -> AnomalyRecord | None:
    """The alert a verdict calls for, or None when its lifecycle did not change."""
    anomaly = verdict.anomaly
    if verdict.event is None or anomaly is None:
        return None
    common = dict(
        anomaly_id=anomaly_id(community_id, verdict.metric, anomaly.opened_ms),
        community_id=community_id, metric=verdict.metric,
        direction="spike" if anomaly.direction > 0 else "drop",
        window_start_ms=anomaly.opened_ms,
    )
    if verdict.event == "opened":
        return AnomalyRecord(
            **common, status="open", event="opened",
            window_end_ms=anomaly.opened_ms + round(anomaly.opened_fraction * HOUR_MS),
            expected=verdict.expected, observed=verdict.observed,
            deviation=verdict.deviation, fraction=verdict.fraction, severity=anomaly.severity)
    return AnomalyRecord(
        **common, status="resolved", event="resolved",
        window_end_ms=anomaly.normal_since_ms or verdict.hour_start_ms,
        expected=anomaly.peak_expected, observed=anomaly.peak_observed,
        deviation=anomaly.peak_deviation, fraction=anomaly.peak_fraction, severity=anomaly.severity)
