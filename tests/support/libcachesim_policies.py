"""Our eviction policies that libcachesim also implements, by our name: the reference their
miss ratios are checked against."""

from __future__ import annotations

import libcachesim as lcs

REFERENCE = {
    "lru": lcs.LRU,
    "fifo": lcs.FIFO,
    "sieve": lcs.Sieve,
    "s3fifo": lcs.S3FIFO,
    "arc": lcs.ARC,
}
