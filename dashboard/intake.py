"""What the ingest does with each received aggregate: every payload ends stored or dead-lettered,
whatever its bytes (docs/mqtt.md, "What can be lost").

- `settle` does it for one batch: reads every payload, writes the valid ones and returns the
  dead letters to write (the caller writes them with its own, in one transaction);
- `read` turns a payload into a contract aggregate or a ContractError: the contract's own
  checks, then the centre's clock window (reason `clock`): a bucket may start at most
  CLOCK_AHEAD_S ahead of the centre's clock and no earlier than the raw retention behind it.
- `write` stores a batch; when the database refuses it for its data (anything but a lost
  connection), it halves the batch until each culprit is alone, stores the rest and returns the
  culprits with the error, for their dead letters (reason `database`).
- `is_connection_error` tells the two apart: a connection error leaves the batch
  unacknowledged, retried until the database is back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy.exc as sa_exc

from dashboard.admission import Refusal, Written
from dashboard.storage import RETENTION
from footfall_core.contract import Aggregate, ContractError, check_clock, parse_aggregate

ERROR_CHARS = 500  # of a database error kept in a dead letter's reason


def read(payload: bytes, topic: str, now: datetime) -> Aggregate:
    """The aggregate in `payload`, valid by the contract and within the centre's clock window
    at `now` (aware UTC); raises ContractError (and nothing else) with its reason."""
    message = parse_aggregate(payload, topic)
    check_clock(message, now, RETENTION["raw_minutes"])
    return message


@dataclass(frozen=True)
class Batch:
    """What `write` did: per write that went through, its `Written`; and the positions (in the
    batch given) of the messages the database refused, with the error in words."""

    written: tuple[Written, ...]
    refused: tuple[tuple[int, str], ...]

    @property
    def stored(self) -> int:
        return sum(len(w.stored) for w in self.written)

    @property
    def duplicates(self) -> int:
        return sum(len(w.duplicates) for w in self.written)

    @property
    def refusals(self) -> list[Refusal]:
        """The refusals storage dead-lettered itself (plan, conflict, registry, horizon)."""
        return [r for w in self.written for r in w.refused]


@dataclass(frozen=True)
class Settled:
    """What became of a batch of received payloads: the writes (`written`), and the dead letters
    still to write, as (position in the batch, code, reason): `contract` and `clock` from
    reading, `database` from writing. Storage wrote its own refusals' dead letters."""

    written: Batch
    letters: tuple[tuple[int, str, str], ...]


def settle(storage, received: Sequence[tuple[str, bytes]], now: datetime) -> Settled:
    """Read every (topic, payload) at `now` and write the valid ones through `write`. Raises only
    on a lost database connection, with nothing of the failing write committed."""
    valid, positions, letters = [], [], []
    for position, (topic, payload) in enumerate(received):
        try:
            valid.append(read(payload, topic, now))
            positions.append(position)
        except ContractError as exc:
            letters.append((position, exc.code, str(exc)))
    written = write(storage, valid)
    letters += [(positions[i], "database", reason) for i, reason in written.refused]
    return Settled(written, tuple(sorted(letters)))


def write(storage, messages: Sequence[Aggregate]) -> Batch:
    """Store `messages` through `storage.write_aggregates`, halving a batch the database refuses
    for its data until the culprits are alone (writes stay in arrival order). Raises only on a
    connection error, with nothing of the failing write committed."""
    written: list[Written] = []
    refused: list[tuple[int, str]] = []

    def attempt(first: int, part: Sequence[Aggregate]) -> None:
        try:
            written.append(storage.write_aggregates(part))
        except Exception as exc:
            if is_connection_error(exc):
                raise
            if len(part) == 1:
                refused.append((first, f"database refused it: {type(exc).__name__}: {exc}"[:ERROR_CHARS]))
                return
            half = len(part) // 2
            attempt(first, part[:half])
            attempt(first + half, part[half:])

    if messages:
        attempt(0, messages)
    return Batch(tuple(written), tuple(refused))


def is_connection_error(exc: BaseException) -> bool:
    """The database could not be reached or dropped the connection (including a deadlock or
    lock timeout the server resolved by aborting us): retrying later can succeed. Anything
    else is the data's fault: the same message would fail again forever."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc,
        sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.DisconnectionError | sa_exc.TimeoutError,
    )
