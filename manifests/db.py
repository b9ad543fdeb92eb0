"""Database connections for the catalog: SQLite (embedded default) or PostgreSQL (scale-out).

Queries are written once with `?` placeholders; each dialect adapts them.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

Row = dict[str, Any]


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...
    def one(self) -> Row | None: ...
    def all(self) -> list[Row]: ...
    @property
    def rowcount(self) -> int: ...


class _DbApiCursor:
    """The Cursor protocol over a DB-API cursor; rows come back as dicts."""

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def _sql(self, sql: str) -> str:
        return sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cur.execute(self._sql(sql), tuple(params))

    def one(self) -> Row | None:
        row = self._cur.fetchone()
        return dict(row) if row is not None else None

    def all(self) -> list[Row]:
        return [dict(r) for r in self._cur.fetchall()]

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed."""
        return int(self._cur.rowcount)

    def close(self) -> None:
        self._cur.close()


class SqliteDatabase:
    """One short-lived connection per transaction; WAL lets readers run beside a writer."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # WAL cannot be switched on inside a transaction.
        self._connection().execute("PRAGMA journal_mode=WAL").fetchall()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[_DbApiCursor]:
        conn = self._connection()
        # IMMEDIATE takes the write lock up front, so claim-then-update never deadlocks.
        conn.execute("BEGIN IMMEDIATE")
        cursor = _DbApiCursor(conn.cursor())
        try:
            yield cursor
        except BaseException:
            cursor.close()
            conn.execute("ROLLBACK")
            raise
        cursor.close()
        conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


_PLACEHOLDER = re.compile(r"\?")


class _PgCursor(_DbApiCursor):
    def _sql(self, sql: str) -> str:
        return _PLACEHOLDER.sub("%s", sql)


def split_schema(url: str) -> tuple[str, str | None]:
    """`postgresql://...?schema=s` → (URL without it, "s"): tests isolate themselves by schema."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    schema = query.pop("schema", [None])[0]
    if schema is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
        raise ValueError(f"invalid schema name {schema!r}")
    rest = urlencode({k: v[0] for k, v in query.items()})
    return urlunsplit(parts._replace(query=rest)), schema


def database_unavailable(exc: BaseException) -> bool:
    """Is `exc` the database being away (down, restarting, unreachable, locked too long),
    rather than a refused operation? Such failures are worth retrying later."""
    if isinstance(exc, sqlite3.OperationalError):
        return True
    kind = type(exc)
    return kind.__module__.startswith(("psycopg", "psycopg_pool")) and kind.__name__ in (
        "OperationalError",
        "InterfaceError",
        "PoolTimeout",
    )


class PostgresDatabase:
    """A psycopg connection pool; jobs are claimed with FOR UPDATE SKIP LOCKED."""

    dialect = "postgresql"

    def __init__(self, url: str, *, max_size: int = 8) -> None:
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        conninfo, schema = split_schema(url)
        self.schema = schema

        def configure(conn: Any) -> None:
            if schema:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                conn.execute(f'SET search_path TO "{schema}"')
            conn.commit()

        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "autocommit": False},
            configure=configure,
            # a connection the server dropped (a restart, an idle timeout) is replaced when it
            # is taken from the pool, instead of failing the request that took it
            check=ConnectionPool.check_connection,
            open=True,
            timeout=30,
        )

    @contextmanager
    def transaction(self) -> Iterator[_PgCursor]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield _PgCursor(cur)

    def drop_schema(self) -> None:
        if self.schema:
            with self.transaction() as cur:
                cur.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def close(self) -> None:
        self._pool.close()


def open_database(url: str) -> SqliteDatabase | PostgresDatabase:
    """`sqlite:///path.db` or `postgresql://user@host:port/db`."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        # As SQLAlchemy: sqlite:///relative.db and sqlite:////absolute/path.db
        path = unquote(urlsplit(url).path)[1:]
        if not path:
            raise ValueError(f"sqlite URL needs a path: {url!r}")
        return SqliteDatabase(Path(path))
    if scheme in ("postgresql", "postgres"):
        return PostgresDatabase(url)
    raise ValueError(f"unsupported database URL {url!r} (use sqlite:/// or postgresql://)")
