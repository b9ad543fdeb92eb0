"""The arguments of `mediacdn simulate` and `mediacdn cache replay` (kept apart from what runs
them, so that building the command line loads no simulator)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?", help="a shipped scenario's name or a TOML file")
    parser.add_argument("--list", action="store_true", help="list the shipped scenarios")
    parser.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    parser.add_argument(
        "--out", type=Path, help="directory for summary.json and the plots (default sim-out/NAME)"
    )
    parser.add_argument(
        "--sample",
        type=float,
        default=1.0,
        help="simulate this fraction of the audience (arrival rates and POP capacities scaled)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario key, in TOML syntax (e.g. --set edge_cache_mb=5000)",
    )
    parser.add_argument(
        "--export-trace",
        action="store_true",
        help="also write each POP's requests (edges' and shields') as libCacheSim "
        "oracleGeneral files (traces/)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


REPLAY_DESCRIPTION = (
    "Replay request logs through every eviction policy at each capacity and "
    "print object and byte miss ratios, the byte miss ratio against LRU's and the share "
    "of the LRU→Belady gap closed (Belady from libcachesim). Formats: oracle "
    "(libCacheSim's binary traces: oracleGeneral, and lcs of versions 1 to 8, each record a "
    "request), nginx (a text access log: the combined or common format, "
    "nginx's or Apache's, with or without fields around them; a virtual host first, as "
    "Apache's vhost_combined logs it, keys each site apart; "
    "a line is read by its quoted request, the status and bytes after it, and a time before "
    "it: [$time_local] or [$time_iso8601], else an ISO 8601 time or $msec; "
    "or a log_format of JSON lines with $request or "
    "$request_method and $request_uri, $status, $body_bytes_sent and $msec, $time_local or "
    "$time_iso8601, and the JSON logs of Caddy, Traefik, Envoy, Google Cloud, Cloudflare, "
    "Akamai, Azure Front Door, Fastly, Kong, Huawei Cloud, Tencent Cloud and its EdgeOne, "
    "CacheFly, and records "
    "named by the Elastic Common Schema "
    "or OpenTelemetry's conventions, as lines or as a JSON array (an export, or Azure's "
    '{"records": [...]}); any line '
    "carried by Docker, Fluentd, Filebeat or "
    "Cloud Logging; Squid's native format, Traffic Server's `squid` "
    "too, HAProxy's HTTP log, an AWS load balancer's, bunny.net's, and the CDN logs of Alibaba "
    "Cloud, Huawei Cloud, Tencent Cloud and UCloud (the bytes logged count the "
    "headers); Envoy's default text format and S3's server access log; or "
    "the W3C extended format, "
    "CloudFront's standard logs and IIS's: "
    "#Fields naming date, time, cs-method, cs-uri-stem, sc-status and sc-content-len or "
    "sc-bytes; or a table: values separated by commas, tabs, semicolons or bars under a "
    "header that names the columns as the JSON logs above name their fields, or as W3C "
    "fields with _ (Athena's CloudFront table exported, Cloud Storage's usage logs)), "
    "edge (a POP's --access-log, JSON lines), csv (a table whose columns --columns says: "
    "libCacheSim's csv and plain-text traces, an export whose header names them otherwise; "
    "or a public trace told from its first line: webcachesim's time id size, as LRB's "
    "Wikipedia traces and Tragen's (with commas), IBM's object store traces, Twitter's cache "
    "traces, Wikimedia's "
    "caching traces). "
    "Only GET/HEAD answered 200, 206 or 304 count; an object's size is its last whole "
    "(200) response's (in an nginx log the most bytes a 200 or 206 sent of it: nginx logs "
    "the bytes sent, a client that leaves cuts a 200 short, and a range is a part). Files "
    "may be compressed (gzip, bzip2, xz, zstd: rotated logs, trace archives), text in UTF-8 "
    "or UTF-16; several "
    "files are merged in time order, so rotated logs can be named in any order. Where a "
    "log says what its cache did (a POP's, Squid's, Traffic Server's, CloudFront's, "
    "bunny.net's, $upstream_cache_status in JSON or after a text line's request, Varnish's "
    "hitmiss, a CDN's JSON), that cache's own miss ratios over "
    "the same requests are printed too. All of it, and how requests become objects: "
    "docs/cache-replay.md."
)


REPLAY_EXAMPLES = """examples:
  mediacdn cache replay /var/log/nginx/access.log*     a day of rotated logs, any order
  zcat logs/*.gz | mediacdn cache replay - --capacity 1%,10%,64GiB
  mediacdn cache replay pop-logs/ --policy LRU,S3-FIFO,adaptive
                                          every POP's --access-log under a directory
  mediacdn cache replay cluster52.oracleGeneral.zst --capacity 0.01,0.1 --json
                                          a libCacheSim dataset, the figures for a script
  mediacdn cache replay export.csv \\
      --columns 'time-col=When, obj-id-col=Path, obj-size-col=Bytes, has-header=true'"""


class _KeepsExamples(argparse.HelpFormatter):
    """Wraps the description as argparse does, and keeps text laid out in lines (the
    examples) as it is."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return text
        return super()._fill_text(text, width, indent)


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = REPLAY_EXAMPLES
    parser.formatter_class = _KeepsExamples
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        help="logs or traces, plain or compressed; a directory: every file under it (hidden "
        "ones aside; told the format, files that hold no log, such as an error log, are left "
        "out and named); -: standard input (as from zcat or an object store's client)",
    )
    parser.add_argument(
        "--format",
        choices=["auto", "oracle", "nginx", "edge", "csv"],
        default="auto",
        help="what the files hold: libCacheSim's binary traces (oracleGeneral or lcs), text "
        "access logs (nginx: combined or JSON lines, Apache's, Envoy's, HAProxy's, Squid's, "
        "Traffic Server's, Caddy's, Traefik's, S3's, an AWS load balancer's, JSON lines as Google "
        "Cloud, Cloudflare, Akamai, Azure Front Door, Fastly and Kong write them, W3C extended as "
        "CloudFront and IIS write them, tables of values under a header), or a POP's "
        "--access-log; csv: a table whose columns --columns says (libCacheSim's csv and "
        "plain-text traces), or without it a public trace told from its first line "
        "(webcachesim's, IBM's object store's, Twitter's, Wikimedia's); "
        "auto (the default) tells from each file's start",
    )
    parser.add_argument(
        "--columns",
        metavar="SPEC",
        help="where a table's values are, as libCacheSim's cachesim -t says it: "
        "'time-col=2, obj-id-col=5, obj-size-col=4, delimiter=,, has-header=true' (a column "
        "by its number from 1, or by its name in the header; delimiter \\t or tab for a tab, "
        "space for runs of blanks); "
        "every row is a request; without obj-size-col each object is one byte, without "
        "time-col a row's time is its number (several files: one after another, in the order "
        "named); implies --format csv",
    )
    parser.add_argument(
        "--capacity",
        default="1%,10%",
        help="shares of the footprint or sizes (1%%,10%%,20GiB); a number between 0 and 1 is a "
        "share, as libCacheSim's cachesim writes one (0.01,0.1)",
    )
    parser.add_argument(
        "--policy",
        default="all",
        help="comma-separated policies, or all (LRU and Belady always run); case and dashes "
        "aside, as libCacheSim names them (LRU, S3-FIFO, Belady)",
    )
    parser.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        help="replays run at once, each policy at each capacity in a process of its own "
        "(default: one a core; the figures are the same)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the figures as one JSON document (the trace's size, then per capacity "
        "Belady's byte miss ratio and each policy's miss, byte miss, ratio to LRU's and gap "
        "closed) in place of the table",
    )


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of replays at once (1 or more)")
    return jobs
