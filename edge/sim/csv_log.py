"""A request log as delimited values under a header row: the result of a query over a CDN's
logs (Athena's table of CloudFront's, BigQuery's, a log analytics tool's export), Google Cloud
Storage's usage logs, or a CDN's log delivered as CSV. The header names the columns as a JSON
log names its fields (edge/sim/json_log.py: nginx's variables, Cloudflare's, Akamai's, Fastly's
... names, and the W3C fields written with - or _: `cs_method`, `cs_uri`, `sc_status`,
`sc_bytes`, `time_micros`, as Cloud Storage names them), their case aside ("Status", "URL");
a `date` column and a time of day are one time. Values are separated by the header's
delimiter (a comma, a tab, a semicolon or a bar), quoted where they hold one. A header repeated
further down (exports joined end to end) is passed over."""

from __future__ import annotations

import csv
from typing import Final

from edge.sim.json_log import (
    Logged,
    Request,
    cacheable,
    fields_read,
    flat_request,
    named_field,
    names_a_request,
)

_DELIMITERS: Final = (",", "\t", ";", "|")


def split_values(line: str, delimiter: str) -> list[str]:
    """`line`'s values, as the csv module reads them ([]: it cannot be read so)."""
    if '"' not in line:  # no value quoted: split as it is (a quarter of the csv module's time)
        return line.rstrip("\r\n").split(delimiter)
    try:
        return next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter), [])
    except csv.Error:  # (a NUL byte, an unclosed quote at the end)
        return []


class CsvLog:
    """The lines of one delimited log, read in order: the first is its header."""

    def __init__(self) -> None:
        self._names: tuple[str, ...] = ()
        self._read: list[tuple[int, str]] = []  # the columns a request is read from
        self._delimiter = ","
        self._header = ""

    @property
    def started(self) -> bool:
        """Whether a header has been read: the lines after it are records."""
        return bool(self._names)

    def header(self, line: str) -> bool:
        """Take `line` as the header if its names give a request's time, method, target and
        status; whether it did."""
        line = line.lstrip("\ufeff")  # (a spreadsheet's export starts with a byte order mark)
        for delimiter in _DELIMITERS:
            names = tuple(named_field(name.strip()) for name in split_values(line, delimiter))
            if len(names) >= 3 and names_a_request(names):
                self._names, self._delimiter, self._header = names, delimiter, line.strip()
                read = set(fields_read(names))
                self._read = [(at, name) for at, name in enumerate(names) if name in read]
                return True
        return False

    def request(self, line: str) -> Request | None:
        """A record line as json_log's `flat_request` gives it, whatever its method (None: it
        does not fill the header's columns, or gives no request)."""
        values = split_values(line, self._delimiter)
        if len(values) != len(self._names):
            return None
        fields = {name: values[at] for at, name in self._read}
        return flat_request(fields, fields.get("request"))

    def record(self, line: str) -> Logged | None:
        """A record line as (time, key, status, bytes, what the cache did); None if it is no
        GET or HEAD request, or not whole."""
        return cacheable(self.request(line))

    def is_header(self, line: str) -> bool:
        """Whether `line` is the header again."""
        return line.lstrip("\ufeff").strip() == self._header
