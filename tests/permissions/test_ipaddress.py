import pytest
from django.core.exceptions import ValidationError

from apps.permissions.ipaddress_lists import IpList


@pytest.mark.parametrize(
    "entries, inside, outside",
    [
        (["192.168.0.10"], ["192.168.0.10"], ["192.168.0.11", "192.168.0.9"]),
        (["172.12.0.0/16"], ["172.12.0.0", "172.12.255.255"], ["172.13.0.0", "172.11.255.255"]),
        (["192.168.10.0-192.168.255.255"], ["192.168.10.0", "192.168.255.255", "192.168.100.7"],
         ["192.168.9.255", "192.169.0.0"]),
        (["2001:db8::1"], ["2001:db8::1", "2001:DB8:0:0::1"], ["2001:db8::2"]),
        (["2001:db8::/32"], ["2001:db8:ffff::1"], ["2001:db9::1", "10.0.0.1"]),
        (["2001:db8::10-2001:db8::20"], ["2001:db8::10", "2001:db8::20"], ["2001:db8::f", "2001:db8::21"]),
        (["*"], ["1.2.3.4", "::1", "2001:db8::1"], []),
        (["0.0.0.0/0"], ["0.0.0.0", "255.255.255.255", "8.8.8.8"], ["::1", "2001:db8::1"]),
        (["10.0.0.0/8"], ["::ffff:10.1.2.3"], ["::ffff:11.1.2.3"]),
        (["10.0.0.0-10.0.0.5", "10.0.0.4-10.0.0.9", "10.0.0.20"], ["10.0.0.0", "10.0.0.7", "10.0.0.9", "10.0.0.20"],
         ["10.0.0.10", "10.0.0.19", "10.0.0.21"]),
    ],
)
def test_contains_covers_exactly_the_listed_addresses(entries, inside, outside):
    addresses = IpList.parse(entries)
    assert [address for address in inside if not addresses.contains(address)] == []
    assert [address for address in outside if addresses.contains(address)] == []


def test_entries_come_out_canonical_and_deduplicated():
    addresses = IpList.parse([" 10.1.2.3/8 ", "2001:DB8:0:0::1", "10.0.0.0/8", "1.1.1.1 - 1.1.1.9", "*"])
    assert addresses.entries == ("10.0.0.0/8", "2001:db8::1", "1.1.1.1-1.1.1.9", "*")


def test_a_comma_separated_string_is_read_like_setproject_and_blank_entries_are_skipped():
    addresses = IpList.parse("192.168.0.0/16, 172.12.0.0/16,")
    assert addresses.entries == ("192.168.0.0/16", "172.12.0.0/16")
    assert addresses.contains("172.12.9.9")


def test_an_empty_list_contains_nothing_and_is_falsy():
    addresses = IpList.parse([])
    assert not addresses
    assert not addresses.contains("10.0.0.1")
    assert IpList.parse(["10.0.0.1"])


def test_an_unparseable_request_address_is_never_covered():
    assert not IpList.parse(["10.0.0.0/8"]).contains("10.0.0.300")
    assert not IpList.parse(["10.0.0.0/8"]).contains("")


def test_covers_everything_needs_both_families():
    assert IpList.parse(["*"]).covers_everything
    assert IpList.parse(["0.0.0.0/0", "::/0"]).covers_everything
    assert not IpList.parse(["0.0.0.0/0"]).covers_everything


@pytest.mark.parametrize(
    "entries, message",
    [
        (["10.0.0.1", "10.0.0.2", "10.0.0.300"], "entry 3 '10.0.0.300' is not an IP address, a CIDR or a range"),
        (["10.0.0.0/33"], "entry 1 '10.0.0.0/33' is not an IP address, a CIDR or a range"),
        (["10.0.0.9-10.0.0.1"], "entry 1 '10.0.0.9-10.0.0.1' starts after it ends"),
        (["10.0.0.1-::1"], "entry 1 '10.0.0.1-::1' mixes IPv4 and IPv6"),
        (["localhost"], "entry 1 'localhost' is not an IP address, a CIDR or a range"),
        (["10.0.0.1-"], "entry 1 '10.0.0.1-' is not an IP address, a CIDR or a range"),
    ],
)
def test_bad_entries_are_refused_naming_the_entry(entries, message):
    with pytest.raises(ValidationError) as caught:
        IpList.parse(entries, field="ip_whitelist")
    assert caught.value.message_dict == {"ip_whitelist": [message]}


def test_every_bad_entry_is_reported_at_once_under_the_given_field():
    with pytest.raises(ValidationError) as caught:
        IpList.parse("1.2.3.4, nope, 5.6.7.8/99", field="vpc_whitelist")
    assert caught.value.message_dict == {"vpc_whitelist": [
        "entry 2 'nope' is not an IP address, a CIDR or a range",
        "entry 3 '5.6.7.8/99' is not an IP address, a CIDR or a range",
    ]}


def test_lists_with_the_same_canonical_entries_are_equal():
    assert IpList.parse(["10.1.0.0/8"]) == IpList.parse(["10.0.0.0/8"])
    assert IpList.parse(["10.0.0.0/8"]) != IpList.parse(["10.0.0.0/9"])
