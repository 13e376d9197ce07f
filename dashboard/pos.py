"""Point-of-sale transactions per store and local hour: import, and conversion read back.

    python -m dashboard pos import FILE [--store ID]     CSV, or JSON when FILE ends in .json

An import is CSV (a header row; columns `hour_start`, `transactions`, optional `sales_amount`,
and `store` when one file holds several stores) or JSON (a list of objects with those keys).
`hour_start` is ISO 8601: without an offset it is the store's local time (what a till
prints), with one (or `Z`) it is converted to it; either way it must be the start of one of
the store's local hours.

Every row is checked before anything is written. One bad row refuses the whole import, and
the error names each bad row by its line (CSV: the file's line, the header being line 1;
JSON: the item's number, the first being 1) with the reason. A good import replaces the
rows already stored for the same store and hour, in one transaction: importing a file twice
leaves what importing it once did.

An import is bounded: at most `MAX_IMPORT_BYTES` of text and `MAX_IMPORT_ROWS` rows (a year of
hours for a few stores); beyond, `ImportTooLarge` refuses it before any row is checked, so a
client that sends too much cannot tie up the server, and nothing is imported.

Conversion is `repository.conversion_hours` summed per period: Σ transactions ÷ Σ footfall
over the hours that have both.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dashboard import repository
from dashboard import tables as t
from dashboard.read_models import ReadModel
from dashboard.rollups import upsert
from dashboard.settings import add_db_argument
from dashboard.storage import Storage, now_utc

log = logging.getLogger(__name__)
COLUMNS = ("store", "hour_start", "transactions", "sales_amount")
REQUIRED = ("hour_start", "transactions")
MAX_LISTED_ERRORS = 50
MAX_IMPORT_BYTES = 4 * 1024 * 1024
MAX_IMPORT_ROWS = 50_000
Grain = Literal["hour", "day", "week", "hour_of_day"]


class PosRow(BaseModel):
    """One row as sent: the hour's transactions and, if known, its sales amount."""

    model_config = ConfigDict(extra="forbid")
    store: str | None = None
    hour_start: datetime
    transactions: int = Field(ge=0)
    sales_amount: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class RowError(ReadModel):
    line: int = Field(description="CSV: line of the file (header = 1); JSON: item number (first = 1)")
    reason: str


class PosImportError(ValueError):
    """An import refused whole; `errors` names every bad row."""

    def __init__(self, source: str, errors: list[RowError]):
        self.errors = errors
        listed = "; ".join(f"line {e.line}: {e.reason}" for e in errors[:MAX_LISTED_ERRORS])
        more = f"; and {len(errors) - MAX_LISTED_ERRORS} more" if len(errors) > MAX_LISTED_ERRORS else ""
        super().__init__(f"{source}: {len(errors)} bad row(s), nothing imported: {listed}{more}")


class ImportTooLarge(ValueError):
    """An import over `MAX_IMPORT_BYTES` or `MAX_IMPORT_ROWS`, refused whole; the message names
    the limit."""


def too_many_bytes(source: str, size_bytes: int | None = None) -> ImportTooLarge:
    got = f"{size_bytes:,} bytes" if size_bytes is not None else "more"
    return ImportTooLarge(
        f"{source}: {got}, at most {MAX_IMPORT_BYTES:,} bytes ({MAX_IMPORT_BYTES // 1024 // 1024} MiB)"
        f" and {MAX_IMPORT_ROWS:,} rows an import; split the file, nothing imported"
    )


def _bounded(source: str, rows: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
    if len(rows) > MAX_IMPORT_ROWS:
        raise ImportTooLarge(
            f"{source}: more than {MAX_IMPORT_ROWS:,} rows, at most {MAX_IMPORT_ROWS:,} rows"
            f" (and {MAX_IMPORT_BYTES:,} bytes) an import; split the file, nothing imported"
        )
    return rows


class PosImport(ReadModel):
    """What an import stored."""

    rows: int
    replaced: int = Field(description="rows that replaced hours already stored")
    stores: list[str]
    first_hour: datetime | None = Field(description="UTC start of the earliest hour imported")
    last_hour: datetime | None


class ConversionPeriod(ReadModel):
    period: str = Field(description="local hour 'YYYY-MM-DD HH:00', day, ISO week or hour of day 'HH:00'")
    footfall: int = Field(description="people in during the period's hours that have transactions")
    transactions: int
    sales_amount: float | None = Field(description="null when no hour of the period sent one")
    conversion: float | None = Field(description="transactions ÷ footfall; null without footfall")
    simulated: bool


class Conversion(ReadModel):
    store: str
    first: date
    last: date
    grain: Grain
    periods: list[ConversionPeriod]
    total: ConversionPeriod


# ---- reading an import ---------------------------------------------------------------------


def read_csv(text: str) -> list[tuple[int, dict]]:
    """(line, row) pairs of a CSV text; empty cells are left out. A header without the
    required columns, or with unknown ones, is an error on line 1."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), restkey="extra_cells")
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        reasons = [f"missing column {c!r}" for c in missing] + [f"unknown column {c!r}" for c in unknown]
        raise PosImportError("header", [RowError(line=1, reason="; ".join(reasons) + f" (have {header})")])
    reader.fieldnames = header
    rows: list[tuple[int, dict]] = []
    for row in reader:
        if len(rows) == MAX_IMPORT_ROWS:  # one more is enough to refuse
            rows.append((reader.line_num, {}))
            break
        cells = {k: v.strip() if isinstance(v, str) else v for k, v in row.items()}
        rows.append((reader.line_num, {k: v for k, v in cells.items() if v not in ("", None)}))
    return _bounded("CSV", rows)


def read_json(data) -> list[tuple[int, dict]]:
    """(item number, row) pairs of a JSON list of objects (or {"rows": [...]})."""
    if isinstance(data, dict) and "rows" in data:
        data = data["rows"]
    if not isinstance(data, list):
        raise PosImportError("body", [RowError(line=1, reason="expected a JSON list of rows")])
    return _bounded(
        "JSON", [(n, item if isinstance(item, dict) else {"row": item}) for n, item in enumerate(data, 1)]
    )


def read_json_text(text: str) -> list[tuple[int, dict]]:
    try:
        return read_json(json.loads(text))
    except json.JSONDecodeError as exc:
        raise PosImportError("body", [RowError(line=exc.lineno, reason=f"not JSON: {exc.msg}")]) from None


# ---- checking and writing ------------------------------------------------------------------


def _local_hour(value: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """(local start, UTC start) of the hour `value` names; ValueError says why it is not one."""
    if value.tzinfo is None:
        local = value.replace(tzinfo=tz)
        if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != value:
            raise ValueError(f"{value:%Y-%m-%d %H:%M} does not exist in {tz.key} (clocks went forward)")
    else:
        local = value.astimezone(tz)
    if (local.minute, local.second, local.microsecond) != (0, 0, 0):
        raise ValueError(f"{value.isoformat()} is not the start of an hour in {tz.key}")
    return local, local.astimezone(UTC).replace(tzinfo=None)


def _reason(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']} (got {e.get('input')!r})"
        for e in exc.errors(include_url=False)
    )


def check(conn: sa.Connection, rows: list[tuple[int, dict]], store_id: str | None, source: str) -> list[dict]:
    """The `pos_hours` rows of an import, or PosImportError naming every bad row. `store_id`
    is the store an API call is for (rows may then leave `store` out, or must repeat it)."""
    known = {r.id: r.timezone for r in conn.execute(sa.select(t.stores.c.id, t.stores.c.timezone))}
    errors, out, seen = [], [], {}
    imported_at = now_utc()
    for line, raw in rows:
        try:
            row = PosRow.model_validate(raw)
        except ValidationError as exc:
            errors.append(RowError(line=line, reason=_reason(exc)))
            continue
        store = row.store or store_id
        if store is None:
            errors.append(
                RowError(line=line, reason="no store: give a store column (or the store to import for)")
            )
            continue
        if store_id is not None and store != store_id:
            errors.append(RowError(line=line, reason=f"store {store!r} in an import for store {store_id!r}"))
            continue
        if store not in known:
            errors.append(RowError(line=line, reason=f"unknown store {store!r}"))
            continue
        try:
            local, start = _local_hour(row.hour_start, ZoneInfo(known[store]))
        except ValueError as exc:
            errors.append(RowError(line=line, reason=f"hour_start: {exc}"))
            continue
        if (store, start) in seen:
            errors.append(RowError(line=line, reason=f"same store and hour as line {seen[store, start]}"))
            continue
        seen[store, start] = line
        out.append(
            dict(
                store_id=store,
                period_start=start,
                local_date=local.date(),
                local_hour=local.hour,
                transactions=row.transactions,
                sales_amount=row.sales_amount,
                imported_at=imported_at,
            )
        )
    if errors:
        raise PosImportError(source, errors)
    return out


def write(conn: sa.Connection, rows: list[dict], simulated: bool = False) -> PosImport:
    """Store checked rows (from `check`), replacing the same store-hours; the caller commits."""
    p = t.pos_hours.c
    by_store: dict[str, list[datetime]] = defaultdict(list)
    for row in rows:
        by_store[row["store_id"]].append(row["period_start"])
    replaced = 0
    for store, starts in by_store.items():
        stored = conn.scalars(
            sa.select(p.period_start).where(
                (p.store_id == store) & p.period_start.between(min(starts), max(starts))
            )
        )
        replaced += len(set(stored) & set(starts))
    if rows:
        upsert(conn, t.pos_hours, [dict(row, simulated=simulated) for row in rows], replace=True)
    starts = [row["period_start"] for row in rows]
    return PosImport(
        rows=len(rows),
        replaced=replaced,
        stores=sorted(by_store),
        first_hour=min(starts, default=None),
        last_hour=max(starts, default=None),
    )


def import_rows(
    conn: sa.Connection, rows: list[tuple[int, dict]], store_id: str | None = None, source: str = "import"
) -> PosImport:
    """Check every row, then write them all (or nothing: PosImportError)."""
    return write(conn, check(conn, rows, store_id, source))


# ---- conversion ----------------------------------------------------------------------------


def _period(hour: dict, grain: Grain) -> str:
    if grain == "hour":
        return f"{hour['local_date']} {hour['local_hour']:02d}:00"
    if grain == "day":
        return hour["local_date"].isoformat()
    if grain == "week":
        year, week, _ = hour["local_date"].isocalendar()
        return f"{year}-W{week:02d}"
    return f"{hour['local_hour']:02d}:00"


def _summary(period: str, hours: list[dict]) -> ConversionPeriod:
    people = sum(h["footfall"] for h in hours)
    bought = sum(h["transactions"] for h in hours)
    amounts = [h["sales_amount"] for h in hours if h["sales_amount"] is not None]
    return ConversionPeriod(
        period=period,
        footfall=people,
        transactions=bought,
        sales_amount=sum(amounts) if amounts else None,
        conversion=bought / people if people else None,
        simulated=any(h["simulated"] for h in hours),
    )


def conversion(
    conn: sa.Connection, store_id: str, first: date, last: date, grain: Grain = "day"
) -> Conversion:
    """A store's conversion per local hour, day, ISO week or hour of day over [first, last]."""
    hours = repository.conversion_hours(conn, store_id, first, last)
    groups: dict[str, list[dict]] = defaultdict(list)
    for hour in hours:
        groups[_period(hour, grain)].append(hour)
    return Conversion(
        store=store_id,
        first=first,
        last=last,
        grain=grain,
        periods=[_summary(key, groups[key]) for key in sorted(groups)],
        total=_summary(f"{first} – {last}", hours),
    )


# ---- python -m dashboard pos import FILE ---------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db_argument(parser)
    actions = parser.add_subparsers(dest="action", required=True)
    imp = actions.add_parser("import", help="import transactions per store and hour (CSV, or JSON if *.json)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--store", help="the store of rows without a store column")


def main(args: argparse.Namespace) -> int:
    storage = Storage(args.db)
    storage.migrate()
    try:
        size_bytes = args.file.stat().st_size
        if size_bytes > MAX_IMPORT_BYTES:
            raise too_many_bytes(str(args.file), size_bytes)
        text = args.file.read_text(encoding="utf-8")
        rows = read_json_text(text) if args.file.suffix.lower() == ".json" else read_csv(text)
        with storage.engine.begin() as conn:
            done = import_rows(conn, rows, args.store, str(args.file))
    except (OSError, PosImportError, ImportTooLarge) as exc:
        log.error("%s", exc)
        return 2
    print(
        f"{args.file}: {done.rows} hours imported for {', '.join(done.stores) or 'no store'}"
        f" ({done.replaced} replaced), {done.first_hour} – {done.last_hour} UTC"
    )
    return 0
