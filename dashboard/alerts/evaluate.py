"""The alert rules' state machines and what they measure: pure, no I/O (the service feeds them).

A rule is `clear` until its value has been at or above its threshold for `hold_s`, then
`active` (a *fired* transition) until the value has been below it for `clear_s` (a *cleared*
transition). An unknown value (no live data yet, a queue nobody has left) moves neither way.
Values are measured from the store's live snapshot (dashboard.live): zone and store occupancy
and queue length from the latest live message, a queue's wait by Little's law (length ÷ the
rate of people leaving it), a camera's time offline or stalled, the time since the store's
last live message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dashboard.live import StoreSnapshot
from footfall_core.alerting import AlertRule
from footfall_core.contract import RuleState

BAD_HEALTH = ("stalled", "error", "ended", "reconnecting")
SECONDS = ("queue_wait", "camera_offline", "store_silent")  # kinds whose value is in seconds


def amount(kind: str, value: float | None) -> str:
    """A rule's value in words: '5 people', '140 s' or 'unknown'."""
    if value is None:
        return "unknown"
    return f"{value:.0f} s" if kind in SECONDS else f"{value:g} people"


def describe(kind: str, zone: str | None, camera: str | None, value: float | None, threshold: float) -> str:
    """What a rule is about now, for banners and webhooks: 'zone tills crowded: 5 people
    (threshold 3 people)'."""
    what = {
        "zone_occupancy": f"zone {zone} crowded",
        "store_occupancy": "store crowded",
        "queue_length": f"queue {zone} long",
        "queue_wait": f"queue {zone} slow",
        "camera_offline": f"camera {camera} offline" if camera else "a camera offline",
        "store_silent": "no data from the store",
    }[kind]
    return f"{what}: {amount(kind, value)} (threshold {amount(kind, threshold)})"


@dataclass(frozen=True)
class Transition:
    """A rule fired or cleared at `at` (aware UTC) with the value it measured then."""

    rule: AlertRule
    event: str  # fired or cleared
    at: datetime
    value: float | None
    threshold: float


@dataclass
class Watch:
    """One rule's state. `alert_id` is the stored alert while active (set by the journal)."""

    rule: AlertRule
    threshold: float
    since: datetime
    active: bool = False
    alert_id: int | None = None
    acknowledged: bool = False
    value: float | None = None
    _crossed_at: datetime | None = None  # when the value last crossed towards the other state

    def step(self, value: float | None, now: datetime) -> Transition | None:
        """Feed the value measured at `now`; returns the transition it causes, if any."""
        self.value = value
        if value is None:
            return None
        towards_other = value < self.threshold if self.active else value >= self.threshold
        if not towards_other:
            self._crossed_at = None
            return None
        if self._crossed_at is None:
            self._crossed_at = now
        wait_s = self.rule.clear_s if self.active else self.rule.hold_s
        if (now - self._crossed_at).total_seconds() < wait_s:
            return None
        self.active, self.since, self._crossed_at = not self.active, now, None
        if not self.active:
            self.alert_id, self.acknowledged = None, False
        return Transition(self.rule, "fired" if self.active else "cleared", now, value, self.threshold)

    def state(self) -> RuleState:
        return RuleState(
            rule=self.rule.name,
            kind=self.rule.kind,
            zone=self.rule.zone,
            camera=self.rule.camera,
            state="active" if self.active else "clear",
            value=self.value,
            threshold=self.threshold,
            since=self.since,
            acknowledged=self.acknowledged,
        )


def queue_wait_s(length: int, left_per_min: float | None) -> float | None:
    """Little's law: the people queueing ÷ the rate they leave, in seconds. None when it cannot
    be told (no rate sent, or nobody left during the window while people queue)."""
    if length == 0:
        return 0.0
    if not left_per_min:
        return None
    return 60.0 * length / left_per_min


@dataclass
class Measure:
    """Measures each rule's value from a store's live snapshot. It remembers since when each
    camera has looked bad (health words carry no time) and when it started, for a store never
    heard of."""

    started: datetime
    _bad_since: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def value(self, rule: AlertRule, snapshot: StoreSnapshot, now: datetime) -> float | None:
        live = snapshot.live
        if rule.kind == "store_silent":
            return (now - (snapshot.heard_at or self.started)).total_seconds()
        if rule.kind == "camera_offline":
            return self._offline_s(rule.camera, snapshot, now)
        if live is None:
            return None
        if rule.kind == "store_occupancy":
            return float(live.people)
        zone = next((z for z in live.zones if z.zone == rule.zone), None)
        if zone is None:
            return None
        if rule.kind == "queue_wait":
            return queue_wait_s(zone.occupancy, zone.left_per_min)
        return float(zone.occupancy)

    def _offline_s(self, camera: str | None, snapshot: StoreSnapshot, now: datetime) -> float:
        """The longest time any watched camera has been offline or stalled (0 if none is)."""
        worst = 0.0
        for name, state in snapshot.cameras.items():
            if camera is not None and name != camera:
                continue
            key = (snapshot.store, name)
            bad = state.status == "offline" or state.health in BAD_HEALTH
            if not bad:
                self._bad_since.pop(key, None)
                continue
            since = self._bad_since.setdefault(key, now)
            if state.status == "offline" and state.last_seen is not None:
                since = min(since, state.last_seen)
            worst = max(worst, (now - since).total_seconds())
        return worst
