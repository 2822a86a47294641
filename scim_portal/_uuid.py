"""Time-ordered UUIDs (RFC 9562 version 7).

Random v4 keys scatter inserts over the whole primary-key index; v7 keys grow
with time, so a first sync of 100,000 users appends to the index, and ordering
by id is ordering by creation.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = 0


def uuid7() -> uuid.UUID:
    """A new version-7 UUID, strictly increasing within this process.

    48 bits of Unix milliseconds, 12 bits of sub-millisecond time (RFC 9562
    §6.2 method 3), 62 random bits; a value that would not exceed the previous
    one is the previous one plus one (method 1's counter, on the random bits).
    """
    global _last
    nanoseconds = time.time_ns()
    milliseconds, remainder = divmod(nanoseconds, 1_000_000)
    sub_millisecond = remainder * 4096 // 1_000_000
    value = (milliseconds & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76 | sub_millisecond << 64
    value |= 0x2 << 62 | int.from_bytes(os.urandom(8), "big") >> 2
    with _lock:
        if value <= _last:
            value = _last + 1
        _last = value
    return uuid.UUID(int=value)
