"""Raw rows and additive hour/day rollup rows, folded per batch and written (used by storage).

Each message becomes raw rows (one per zone, line, transition... of its bucket) and
contributions to the hour and day rollups of its store's local time (`dashboard.kinds` says
which, per message kind). Contributions are summed
in Python first (one upsert per key and batch), then added to what the database holds:
sums add, `max_occupancy` takes the max, `simulated` is OR-ed, and packed grids are merged
cell by cell. Re-adding is only safe because storage refuses a message id it has seen.
A bucket counts wholly in the hour (and local day) of its start.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

from dashboard import cells as packed
from dashboard import tables as t

# keep the larger value (a missing one counts as less)
MAXED = {"max_occupancy", "last_seen", "detector_ms_max"}
ORED = {"simulated"}
DESCRIPTIVE = {"period_start", "local_date", "local_hour", "local_weekday"}
BLOB_TABLES = {t.grid_hours, t.grid_days, t.direction_hours, t.direction_days}


class StoreClock:
    """Maps UTC bucket starts to the store's local hour and day (one per store and batch)."""

    def __init__(self, tz_name: str) -> None:
        self.tz = ZoneInfo(tz_name)
        self._periods: dict[datetime, tuple[dict, dict]] = {}

    def periods(self, start: datetime) -> tuple[dict, dict]:
        """Period columns of the local hour and of the local day holding `start` (naive UTC).
        Hours are the store's own, so that 14:00 means 14:00 in the shop everywhere: in
        UTC+05:30 the hour 14:00-15:00 starts at 08:30 UTC. Every UTC offset in use is a whole
        number of quarter hours, so the answer is the same for a whole UTC quarter hour."""
        quarter = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0)
        if quarter not in self._periods:
            local = quarter.replace(tzinfo=UTC).astimezone(self.tz)
            hour = local.replace(minute=0).astimezone(UTC).replace(tzinfo=None)
            day = local.date()
            self._periods[quarter] = (
                dict(period_start=hour, local_date=day, local_hour=local.hour, local_weekday=local.weekday()),
                dict(period_start=self.midnight_utc(day), local_date=day, local_weekday=day.weekday()),
            )
        return self._periods[quarter]

    def midnight_utc(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.tz).astimezone(UTC).replace(tzinfo=None)


class Rows:
    """Rows to write, per table. Raw tables get a list; rollups get one summed row per key."""

    def __init__(self) -> None:
        self._raw: dict[sa.Table, list[dict]] = defaultdict(list)
        self._keyed: dict[sa.Table, dict[tuple, dict]] = defaultdict(dict)
        self.blobs: dict[sa.Table, dict[tuple, dict]] = defaultdict(dict)

    def append(self, table: sa.Table, row: dict) -> None:
        self._raw[table].append(row)

    def add(self, table: sa.Table, row: dict) -> None:
        """Add a rollup contribution; grids (`cells` arrays) are kept apart for merging."""
        key = tuple(row[c.name] for c in table.primary_key.columns)
        target = self.blobs if table in BLOB_TABLES else self._keyed
        have = target[table].get(key)
        if have is None:
            target[table][key] = dict(row, cells=[row["cells"]]) if "cells" in row else dict(row)
        else:
            combine(have, row, key_names(table))

    def items(self):
        yield from self._raw.items()
        for table, rows in self._keyed.items():
            yield table, list(rows.values())


def key_names(table: sa.Table) -> set[str]:
    return {c.name for c in table.primary_key.columns}


def combine(have: dict, row: dict, keys: set[str]) -> None:
    """Fold one rollup row into another of the same key (in place)."""
    for name, value in row.items():
        if name in keys or name in DESCRIPTIVE:
            continue
        if name == "cells":
            have["cells"].append(value)
        elif name in MAXED:
            have[name] = max(have[name], value)
        elif name in ORED:
            have[name] = bool(have[name] or value)
        else:
            have[name] = have[name] + value


def merged_blobs(conn: sa.Connection, blobs: dict[sa.Table, dict[tuple, dict]]) -> dict[sa.Table, list[dict]]:
    """Grid rollup rows merged with what the database holds for the same keys (rows locked)."""
    out: dict[sa.Table, list[dict]] = {}
    for table, by_key in blobs.items():
        dtype = packed.HEAT if "grid" in table.name else packed.DIRECTIONS
        existing = _locked_rows(conn, table, sorted(by_key))
        rows = []
        for key, row in by_key.items():
            grids = row["cells"]
            old = existing.get(key)
            if old is not None:
                grids = [packed.unpack(old["cells"], dtype), *grids]
                combine(row, {k: v for k, v in old.items() if k != "cells"}, key_names(table))
            rows.append(dict(row, cells=packed.pack(packed.merge(grids, dtype))))
        out[table] = rows
    return out


def _locked_rows(conn: sa.Connection, table: sa.Table, keys: list[tuple]) -> dict[tuple, dict]:
    """The stored rows of these primary keys, locked until commit, by key. PostgreSQL joins the
    keys as one array per key column (one short statement whatever their number, so psycopg
    and the server can reuse its plan); SQLite reads them 200 at a time."""
    pk = list(table.primary_key.columns)
    if conn.dialect.name == "postgresql":
        names = [c.name for c in pk]
        arrays = [
            sa.bindparam(n, [k[i] for k in keys], type_=postgresql.ARRAY(c.type))
            for i, (n, c) in enumerate(zip(names, pk))
        ]
        wanted = sa.func.unnest(*arrays).table_valued(*names).render_derived()
        on = sa.and_(*(c == wanted.c[c.name] for c in pk))
        queries = [sa.select(table).join(wanted, on).with_for_update(of=table)]
    else:
        queries = [
            sa.select(table).where(sa.tuple_(*pk).in_(keys[i : i + 200])) for i in range(0, len(keys), 200)
        ]
    found = {}
    for query in queries:
        for row in conn.execute(query).mappings():
            found[tuple(row[c.name] for c in pk)] = dict(row)
    return found


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: list[dict],
    replace: bool = False,
    nothing: bool = False,
    returning: sa.Column | None = None,
) -> list:
    """Insert rows; on a primary-key clash add the measures (default), overwrite every column
    (`replace`) or keep the old row (`nothing`). Returns the `returning` column of the rows
    inserted or updated (none when not asked). Works on SQLite and PostgreSQL.

    Rows must all have the same columns, and a key must not repeat (fold them first, as `Rows`
    does). They are written in primary-key order, so that concurrent writers lock shared rows in
    the same order. PostgreSQL gets one statement per table and call: each column travels as
    one binary array, unpacked by `unnest` (one round trip and one plan instead of one per row).
    SQLite, whose statements are in-process calls, gets executemany."""
    mode = "replace" if replace else "nothing" if nothing else "add"
    return _write(conn, table, rows, mode, returning)


def insert(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """Insert rows in bulk as `upsert` does; a primary-key clash is an error (IntegrityError)."""
    _write(conn, table, rows, "insert", None)


def _write(conn: sa.Connection, table: sa.Table, rows: list[dict], mode: str, returning) -> list:
    if not rows:
        return []
    names = tuple(rows[0])
    keys = [c.name for c in table.primary_key.columns]
    rows = sorted(rows, key=lambda row: tuple(row[k] for k in keys))
    name = returning.name if returning is not None else None
    if conn.dialect.name == "postgresql" and not any(isinstance(table.c[n].type, sa.JSON) for n in names):
        sql = _unnest_sql(table, names, mode, name)
        arrays = {n: [row[n] for row in rows] for n in names}
        for n in names:  # a binary array holds one type: 60 and 2.5 must both go as floats
            if isinstance(table.c[n].type, sa.Float):
                arrays[n] = [None if v is None else float(v) for v in arrays[n]]
        result = conn.exec_driver_sql(sql, arrays)
        return list(result.scalars()) if name else []
    statement = _statement(conn.dialect.name, table, names, mode, name)
    out = []
    for i in range(0, len(rows), 1000):
        result = conn.execute(statement, rows[i : i + 1000])
        if name:
            out.extend(result.scalars())
    return out


@cache
def _statement(dialect: str, table: sa.Table, names: tuple[str, ...], mode: str, returning: str | None):
    """INSERT of `names` with the ON CONFLICT clause of `mode` (see `upsert`), for executemany."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return _finish(statement, dialect, table, names, mode, returning)


@cache
def _unnest_sql(table: sa.Table, names: tuple[str, ...], mode: str, returning: str | None) -> str:
    """PostgreSQL: INSERT … SELECT FROM unnest(one array per column) as psycopg text whose
    parameters are sent in binary (`%(name)b`: no quoting or hex-encoding of each element)."""
    arrays = [sa.bindparam(n, type_=postgresql.ARRAY(table.c[n].type)) for n in names]
    unpacked = sa.func.unnest(*arrays).table_valued(*names).render_derived()
    statement = postgresql.insert(table).from_select(names, sa.select(*unpacked.c))
    statement = _finish(statement, "postgresql", table, names, mode, returning)
    sql = str(statement.compile(dialect=psycopg_dialect()))
    for n in names:
        sql = sql.replace(f"%({n})s::", f"%({n})b::")
    return sql


def _finish(statement, dialect: str, table: sa.Table, names: tuple[str, ...], mode: str, returning):
    keys = [c.name for c in table.primary_key.columns]
    if mode == "nothing":
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    elif mode != "insert":
        greatest = sa.func.greatest if dialect == "postgresql" else sa.func.max
        new = statement.excluded
        changes = {}
        for name in names:
            if name in keys:
                continue
            column = table.c[name]
            if mode == "replace" or name in DESCRIPTIVE:
                changes[name] = new[name]
            elif name in MAXED:
                changes[name] = sa.func.coalesce(greatest(column, new[name]), new[name])
            elif name in ORED:
                changes[name] = sa.or_(column, new[name])
            else:
                changes[name] = column + new[name]
        statement = statement.on_conflict_do_update(index_elements=keys, set_=changes)
    return statement.returning(table.c[returning]) if returning else statement
