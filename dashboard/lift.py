"""Campaign lift by difference-in-differences on a daily panel of stores (statsmodels OLS).

The model, on the log of a daily count (footfall, promoted zones' entries) or rate
(conversion) of the treated and the control stores, over the pre-period and the campaign:

    log y[s, d] = a[s] + g[d] + b · campaign[s, d] + e[s, d]

`a` is one fixed effect per store (its size), `g` one per date (weekday, weather, holidays,
the chain's trend: whatever moves every store alike), `campaign` is 1 on a treated store's
campaign days. The lift is exp(b) − 1; its 95 % interval is exp of b's t interval minus 1,
with standard errors clustered by store (CR1, G − 1 degrees of freedom), so that a store's days
are not taken as independent observations. Working on logs makes the lift a share of each
store's own level, whatever its size.

The counterfactual of a treated store-day, what it would have counted without the campaign,
is exp(a + g) times the mean of exp(residual) (Duan's smearing: the exp of a mean log is
below the mean). Extra visitors are the counterfactual times the lift, summed over the
treated stores' campaign days; their interval is the counterfactual times the lift's bounds.

Pre-trend check: the same fit on the pre-period alone, its last L days taken as if they were
the campaign (L = the campaign's length, at most half the pre-period). An interval that
excludes 0 says treated and control stores were already drifting apart before the campaign,
and the lift is not to be trusted as it stands.

Per store: the same model with one campaign term per treated store. One store is one cluster,
so its interval cannot be clustered by store; it is Newey-West within each store instead
(statsmodels' `hac-panel`: heteroskedasticity- and autocorrelation-robust over each store's
run of days, Bartlett weights, `hac_lags` lags: 3 for six weeks), so a store's days are not
taken as independent. It describes where the lift came from; with one store's few campaign
days it still covers less often than it claims when stores have shocks of their own that last
(bench/campaign_lift.py measures both), and the pooled interval is the one to quote.

Store-days without a positive value (closed, not reporting, nothing sold) are left out, and so
are stores with fewer than `MIN_PRE_DAYS` days of data before the campaign (a store that opened
during it has no baseline to compare with): `pre_days_by_store` says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import statsmodels.api as sm
from threadpoolctl import threadpool_limits

MIN_TREATED_STORES = 2  # clustered standard errors need more than one treated cluster
MIN_CONTROL_STORES = 3
MIN_PRE_DAYS = 7
CONFIDENCE = 0.95


class TooLittleData(ValueError):
    """Not enough stores or days for an estimate; the message says what is missing."""


@dataclass(frozen=True)
class Effect:
    """A lift on the log scale with its interval; `pct` gives it in percent."""

    log_effect: float
    log_low: float
    log_high: float
    p_value: float

    @property
    def pct(self) -> tuple[float, float, float]:
        """(lift, interval low, interval high) in percent: 100 · (exp(x) − 1)."""
        return tuple(100 * float(np.expm1(x)) for x in (self.log_effect, self.log_low, self.log_high))

    @property
    def contains_zero(self) -> bool:
        return self.log_low <= 0 <= self.log_high


@dataclass(frozen=True)
class DidFit:
    """The pooled estimate and, per row of the panel, its counterfactual.

    `panel` has the columns store, day, value (> 0), treated, campaign (bools) and
    counterfactual (the value the model expects without the campaign)."""

    effect: Effect
    panel: pd.DataFrame

    def campaign_rows(self) -> pd.DataFrame:
        return self.panel[self.panel.treated & self.panel.campaign]

    def observed(self) -> float:
        return float(self.campaign_rows().value.sum())

    def counterfactual(self) -> float:
        return float(self.campaign_rows().counterfactual.sum())

    def extra(self) -> tuple[float, float, float]:
        """What the campaign added over its treated store-days (value, low, high), in the
        panel's unit (visitors, entries)."""
        base, e = self.counterfactual(), self.effect
        return tuple(base * float(np.expm1(x)) for x in (e.log_effect, e.log_low, e.log_high))


def prepare(
    values: pd.DataFrame, treated: set[str], controls: set[str], start: date, end: date
) -> pd.DataFrame:
    """The panel the fits use: `values` (columns store, day, value) cut to the given stores and
    to positive values, with `treated` and `campaign` flags; raises TooLittleData when the
    stores or days are too few for an interval."""
    panel = values[values.store.isin(treated | controls) & (values.value > 0)].copy()
    panel["treated"] = panel.store.isin(treated)
    panel["campaign"] = (panel.day >= start) & (panel.day <= end)
    pre_days = panel[~panel.campaign].day.nunique()
    if pre_days < MIN_PRE_DAYS:
        raise TooLittleData(
            f"{pre_days} day(s) of data before the campaign; at least {MIN_PRE_DAYS} are needed"
        )
    before = panel[~panel.campaign].groupby("store").day.nunique()
    panel = panel[panel.store.isin(before.index[before >= MIN_PRE_DAYS])]  # no baseline, no comparison
    treated_seen = panel[panel.treated].store.nunique()
    control_seen = panel[~panel.treated].store.nunique()
    if treated_seen < MIN_TREATED_STORES:
        raise TooLittleData(
            f"{treated_seen} treated store(s) with data ({MIN_PRE_DAYS} days or more before the campaign); "
            f"at least {MIN_TREATED_STORES} are needed for an interval clustered by store"
        )
    if control_seen < MIN_CONTROL_STORES:
        raise TooLittleData(
            f"{control_seen} control store(s) with data ({MIN_PRE_DAYS} days or more before the campaign); "
            f"at least {MIN_CONTROL_STORES} are needed"
        )
    if not (panel.treated & panel.campaign).any():
        raise TooLittleData("no data from the treated stores during the campaign yet")
    return panel


def hac_lags(days: int) -> int:
    """Newey and West's rule of thumb for the lags of a HAC interval over `days` days:
    floor(4 · (days / 100)^(2/9)), at least 1."""
    return max(1, int(4 * (days / 100) ** (2 / 9)))


def _fit(panel: pd.DataFrame, terms: pd.DataFrame, clustered: bool):
    """OLS of log value on `terms` plus store and date fixed effects (dummies, first dropped),
    with standard errors clustered by store, or (`clustered` false) Newey-West within each
    store: then `panel` must hold each store's rows together, in date order.

    On one BLAS thread: a fit is a few hundred rows by a hundred columns, and OpenBLAS's
    threads spinning on a busy machine made each one 100 times slower (0.4 s against 4 ms)."""
    effects = pd.get_dummies(panel[["store", "day"]].astype(str), drop_first=True, dtype=float)
    design = sm.add_constant(pd.concat([terms, effects], axis=1), has_constant="add")
    model = sm.OLS(np.log(panel.value.to_numpy()), design)
    groups = pd.factorize(panel.store)[0]
    cov = (
        dict(cov_type="cluster", cov_kwds={"groups": groups})
        if clustered
        else dict(cov_type="hac-panel", cov_kwds={"groups": groups, "maxlags": hac_lags(panel.day.nunique())})
    )
    with threadpool_limits(limits=1, user_api="blas"):
        return model.fit(method="qr", use_t=True, **cov)


def _effect(result, term: str) -> Effect:
    low, high = result.conf_int(1 - CONFIDENCE).loc[term]
    return Effect(float(result.params[term]), float(low), float(high), float(result.pvalues[term]))


def estimate(panel: pd.DataFrame) -> DidFit:
    """The pooled lift over every treated store, clustered by store (`panel` from `prepare`)."""
    exposed = (panel.treated & panel.campaign).astype(float).rename("campaign_effect")
    result = _fit(panel, exposed.to_frame(), clustered=True)
    effect = _effect(result, "campaign_effect")
    smearing = float(np.mean(np.exp(result.resid)))
    baseline = np.asarray(result.fittedvalues) - effect.log_effect * exposed.to_numpy()
    return DidFit(effect, panel.assign(counterfactual=np.exp(baseline) * smearing))


def pre_days_by_store(values: pd.DataFrame, stores: set[str], start: date) -> dict[str, int]:
    """Days with a positive value before `start`, per store of `stores` (0 for none)."""
    rows = values[values.store.isin(stores) & (values.value > 0) & (values.day < start)]
    counts = rows.groupby("store").day.nunique()
    return {s: int(counts.get(s, 0)) for s in stores}


def per_store(panel: pd.DataFrame) -> dict[str, tuple[Effect, float, float]]:
    """Each treated store's own lift: store → (effect, observed, counterfactual) over its
    campaign days, for the stores with data during the campaign (a term for a store without
    any would make the design singular). Intervals are Newey-West within each store, not
    clustered (see the module docstring)."""
    panel = panel.sort_values(["store", "day"])  # each store's days in one run, for hac-panel
    exposed = panel[panel.treated & panel.campaign]
    stores = sorted(exposed.store.unique())
    terms = pd.DataFrame(
        {f"campaign_{s}": ((panel.store == s) & panel.campaign).astype(float) for s in stores},
        index=panel.index,
    )
    result = _fit(panel, terms, clustered=False)
    smearing = float(np.mean(np.exp(result.resid)))
    out = {}
    for s in stores:
        rows = (panel.store == s) & panel.campaign
        effect = _effect(result, f"campaign_{s}")
        baseline = np.asarray(result.fittedvalues[rows]) - effect.log_effect
        out[s] = (effect, float(panel.value[rows].sum()), float(np.exp(baseline).sum() * smearing))
    return out


def placebo(panel: pd.DataFrame) -> Effect:
    """The pre-trend check: the pooled fit on the pre-period alone, its last days as a pretend
    campaign as long as the real one (at most half the pre-period)."""
    pre = panel[~panel.campaign]
    days = sorted(pre.day.unique())
    length = min(panel[panel.campaign].day.nunique(), len(days) // 2)
    if len(days) - length < MIN_PRE_DAYS or length < 1:
        raise TooLittleData(
            f"{len(days)} day(s) before the campaign: the pre-trend check needs {MIN_PRE_DAYS} "
            "before a pretend campaign on its last days"
        )
    pretend = pre.assign(campaign=pre.day >= days[-length])
    return estimate(pretend).effect
