"""IP whitelists (shared/reference/maxcompute-security.md §7) and the address lists of the
``IpAddress`` / ``NotIpAddress`` policy conditions.

An entry is an IPv4 or IPv6 address, a CIDR (``172.12.0.0/16``; host bits are dropped, so
``10.1.2.3/8`` means ``10.0.0.0/8``), a range ``a-b`` (both ends included, one address
family, start not after end), or ``*`` for every address of both families. ``0.0.0.0/0`` is
every IPv4 address, as a CIDR says; ``::/0`` is every IPv6 address. An IPv4-mapped IPv6
address (``::ffff:10.0.0.1``, what a dual-stack socket reports) is checked as the IPv4
address it carries.

Lists are parsed once into merged integer ranges per family, so ``contains`` is a bisect.
An empty list contains nothing; whether an empty whitelist means "no whitelist" is the
caller's decision (MaxCompute clears a whitelist by setting it empty).
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Iterable
from functools import lru_cache

from django.core.exceptions import ValidationError

EVERYTHING = "*"
_V4_MAX = (1 << 32) - 1
_V6_MAX = (1 << 128) - 1


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(text.strip())
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class _MalformedEntry(ValueError):
    """An entry that parses as addresses but does not make a usable range."""


def _entry_parse(text: str) -> tuple[str, int, int, int]:
    """``(canonical, version, first, last)`` of one entry (version 0: every address)."""
    if text == EVERYTHING:
        return EVERYTHING, 0, 0, 0
    if "/" in text:
        network = ipaddress.ip_network(text, strict=False)
        return str(network), network.version, int(network.network_address), int(network.broadcast_address)
    if "-" in text:
        start_text, _, end_text = text.partition("-")
        start, end = _address(start_text), _address(end_text)
        if start.version != end.version:
            raise _MalformedEntry("mixes IPv4 and IPv6")
        if int(start) > int(end):
            raise _MalformedEntry("starts after it ends")
        return f"{start}-{end}", start.version, int(start), int(end)
    address = _address(text)
    return str(address), address.version, int(address), int(address)


def _merged(ranges: list[tuple[int, int]]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    starts: list[int] = []
    ends: list[int] = []
    for first, last in sorted(ranges):
        if ends and first <= ends[-1] + 1:
            ends[-1] = max(ends[-1], last)
        else:
            starts.append(first)
            ends.append(last)
    return tuple(starts), tuple(ends)


@lru_cache(maxsize=4096)
def _address_key(text: str) -> tuple[int, int] | None:
    # Decisions ask about the same few client addresses over and over; parsing is the slow part.
    try:
        address = _address(text)
    except ValueError:
        return None
    return address.version, int(address)


class IpList:
    """A parsed list of whitelist entries; ``entries`` holds their canonical spellings."""

    __slots__ = ("entries", "_everything", "_v4", "_v6")

    def __init__(self, entries: tuple[str, ...], everything: bool,
                 v4: tuple[tuple[int, ...], tuple[int, ...]], v6: tuple[tuple[int, ...], tuple[int, ...]]):
        self.entries = entries
        self._everything = everything
        self._v4 = v4
        self._v6 = v6

    @classmethod
    def parse(cls, entries: str | Iterable[str], field: str = "ip_whitelist") -> IpList:
        """Entries as a list or as one comma-separated string (the ``setproject`` form).
        Blank entries (a trailing comma) are skipped; entries are numbered from 1 as given."""
        if isinstance(entries, str):
            entries = entries.split(",")
        canonical: list[str] = []
        errors: list[str] = []
        ranges: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        everything = False
        for number, raw in enumerate(entries, start=1):
            text = str(raw).strip()
            if not text:
                continue
            try:
                spelling, version, first, last = _entry_parse(text)
            except _MalformedEntry as error:
                errors.append(f"entry {number} '{text}' {error}")
                continue
            except ValueError:
                errors.append(f"entry {number} '{text}' is not an IP address, a CIDR or a range")
                continue
            if spelling not in canonical:
                canonical.append(spelling)
            if version == 0:
                everything = True
            else:
                ranges[version].append((first, last))
        if errors:
            raise ValidationError({field: errors})
        return cls(tuple(canonical), everything, _merged(ranges[4]), _merged(ranges[6]))

    def contains(self, address: str) -> bool:
        """Whether ``address`` is covered; an unparseable address is covered by nothing."""
        if self._everything:
            return True
        key = _address_key(address)
        if key is None:
            return False
        starts, ends = self._v4 if key[0] == 4 else self._v6
        position = bisect_right(starts, key[1])
        return position > 0 and key[1] <= ends[position - 1]

    @property
    def covers_everything(self) -> bool:
        """``*``, or ``0.0.0.0/0`` together with ``::/0``."""
        if self._everything:
            return True
        return self._v4 == ((0,), (_V4_MAX,)) and self._v6 == ((0,), (_V6_MAX,))

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __eq__(self, other) -> bool:
        return isinstance(other, IpList) and self.entries == other.entries

    def __hash__(self) -> int:
        return hash(self.entries)

    def __repr__(self) -> str:
        return f"IpList({', '.join(self.entries)})"
