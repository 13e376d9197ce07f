"""Alert rules of a store: the `alerts` section of the store YAML, also editable by HQ through
the dashboard's API (both validate with these models and `check_targets`).

A rule watches one measured value and fires when it has been at or above `threshold` for
`hold_s`; it clears when it has been below for `clear_s` (hysteresis in time, so a value
hovering at the threshold does not flap). What each kind measures, and its unit:

| kind | value | unit | threshold default |
|---|---|---|---|
| `zone_occupancy` | people in `zone` now | people | the zone's capacity |
| `store_occupancy` | people in the store now | people | none: required |
| `queue_length` | people in queue zone `zone` now | people | none: required |
| `queue_wait` | estimated wait in queue zone `zone` (length ÷ leaving rate) | s | none: required |
| `camera_offline` | time `camera` (or any camera) has been offline or stalled | s | none: required |
| `store_silent` | time since the store's last message of any kind | s | none: required |

Webhooks are posted on every transition (fired, cleared, acknowledged) of the rules they name
(all the store's rules when they name none), in the body their `format` says: `slack` (the
default: a Markdown `text`, which Slack's incoming webhooks and Teams' older connectors take),
`teams` (an Adaptive Card message, what Teams' Workflows webhooks take) or `json` (the
transition's fields only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from footfall_core.contract import AlertKind

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
RuleName = Annotated[str, Field(pattern=NAME_PATTERN, description="lower-case letters, digits, _ and -")]
ZONE_KINDS: tuple[AlertKind, ...] = ("zone_occupancy", "queue_length", "queue_wait")
QUEUE_KINDS: tuple[AlertKind, ...] = ("queue_length", "queue_wait")
WebhookFormat = Literal["slack", "teams", "json"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlertRule(_Strict):
    name: RuleName = Field(description="Rule id, unique in the store; shown in banners and webhooks.")
    kind: AlertKind = Field(description="What the rule watches (see the table in footfall_core/alerting.py).")
    zone: RuleName | None = Field(
        None, description="The zone watched: required by zone_occupancy, queue_length and queue_wait."
    )
    camera: RuleName | None = Field(
        None, description="camera_offline: the camera watched (default: any of the store's cameras)."
    )
    threshold: float | None = Field(
        None,
        gt=0,
        le=1e6,
        description="Fires at or above this value (people, or seconds for queue_wait, camera_offline and "
        "store_silent); zone_occupancy defaults to the zone's capacity, every other kind needs one.",
    )
    hold_s: float = Field(
        10.0, ge=0, le=86400, description="Time at or above the threshold before it fires (default 10 s)."
    )
    clear_s: float = Field(
        30.0, ge=0, le=86400, description="Time below the threshold before it clears (default 30 s)."
    )

    @model_validator(mode="after")
    def _fields_of_kind(self) -> AlertRule:
        if self.kind in ZONE_KINDS and self.zone is None:
            raise ValueError(f"a {self.kind} rule needs a zone")
        if self.kind not in ZONE_KINDS and self.zone is not None:
            raise ValueError(f"a {self.kind} rule watches no zone (zone {self.zone!r} given)")
        if self.kind != "camera_offline" and self.camera is not None:
            raise ValueError(f"only camera_offline rules watch a camera (camera {self.camera!r} given)")
        if self.kind != "zone_occupancy" and self.threshold is None:
            raise ValueError(f"a {self.kind} rule needs a threshold")
        return self


class Webhook(_Strict):
    url: str = Field(
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        max_length=2000,
        description="Where each transition is POSTed (a Slack or Teams incoming webhook, any HTTP endpoint).",
    )
    rules: list[RuleName] | None = Field(
        None, description="The rules whose transitions it receives (default: all the store's rules)."
    )
    format: WebhookFormat = Field(
        "slack",
        description="The body: slack (default; Markdown text, also Teams' older connectors), teams (an "
        "Adaptive Card message, Teams' Workflows webhooks) or json (the transition's fields only).",
    )


class Alerts(_Strict):
    rules: list[AlertRule] = Field(
        default_factory=list, description="The store's alert rules (default none)."
    )
    webhooks: list[Webhook] = Field(
        default_factory=list, description="Where transitions are posted (default none)."
    )


def check_targets(
    alerts: Alerts, zones: Mapping[str, tuple[str, int | None]], cameras: set[str]
) -> list[tuple[str, str]]:
    """What in `alerts` names something the store does not have, as (key, problem) pairs:
    `zones` maps each zone name to its (kind, capacity), `cameras` holds the camera names."""
    problems: list[tuple[str, str]] = []
    names = [rule.name for rule in alerts.rules]
    for i, rule in enumerate(alerts.rules):
        key = f"alerts.rules.{i}"
        if names.count(rule.name) > 1:
            problems.append((f"{key}.name", f"duplicate rule name {rule.name!r}"))
        if rule.zone is not None:
            if rule.zone not in zones:
                have = ", ".join(sorted(zones)) or "none"
                problems.append((f"{key}.zone", f"no zone named {rule.zone!r} (have {have})"))
                continue
            kind, capacity = zones[rule.zone]
            if rule.kind in QUEUE_KINDS and kind != "queue":
                problems.append((f"{key}.zone", f"zone {rule.zone!r} is not a queue (kind: queue)"))
            if rule.kind == "zone_occupancy" and rule.threshold is None and capacity is None:
                problems.append(
                    (
                        f"{key}.threshold",
                        f"zone {rule.zone!r} has no capacity to default to: give a threshold",
                    )
                )
        if rule.camera is not None and rule.camera not in cameras:
            problems.append((f"{key}.camera", f"no camera named {rule.camera!r}"))
    formats: dict[str, tuple[int, str]] = {}
    for i, hook in enumerate(alerts.webhooks):
        first, fmt = formats.setdefault(hook.url, (i, hook.format))
        if fmt != hook.format:
            problems.append(
                (
                    f"alerts.webhooks.{i}.format",
                    f"{hook.format!r}, but webhook {first} posts to the same URL as {fmt!r}",
                )
            )
        for name in hook.rules or []:
            if name not in names:
                problems.append((f"alerts.webhooks.{i}.rules", f"no rule named {name!r}"))
    return problems


def threshold_of(rule: AlertRule, capacity: int | None) -> float:
    """The rule's threshold, a zone_occupancy rule's default being its zone's capacity."""
    value = rule.threshold if rule.threshold is not None else capacity
    if value is None:
        raise ValueError(f"rule {rule.name!r}: no threshold and no zone capacity")
    return float(value)
