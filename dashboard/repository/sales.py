"""Point-of-sale hours matched with footfall: what conversion is computed from."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from dashboard import tables as t
from dashboard.repository.common import StoreIds, days, footfall


def conversion_hours(
    conn: sa.Connection, store_ids: StoreIds, first: date, last: date
) -> list[dict[str, Any]]:
    """The local hours over [first, last] that have both point-of-sale transactions and a
    footfall count, in time order: store_id, period_start (UTC), local_date, local_hour,
    footfall, transactions, sales_amount (None when not sent), simulated. Conversion over any
    period is Σ transactions ÷ Σ footfall over these hours: an hour missing either side is
    left out of both, so a partial import or a camera outage does not bias it."""
    p = t.pos_hours.c
    sales = conn.execute(
        sa.select(
            p.store_id,
            p.period_start,
            p.local_date,
            p.local_hour,
            p.transactions,
            p.sales_amount,
            p.simulated,
        )
        .where(days(t.pos_hours, store_ids, first, last))
        .order_by(p.store_id, p.period_start)
    ).all()
    if not sales:
        return []
    people = footfall(conn, sorted({row.store_id for row in sales}), first, last, "hour")
    return [
        dict(row._mapping, footfall=people[(row.store_id, row.period_start)])
        for row in sales
        if (row.store_id, row.period_start) in people
    ]
