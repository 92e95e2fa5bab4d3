"""The outbound address rule (the SSRF guard's judgement): every special-purpose range of the IANA
registries is refused, and addresses that carry an IPv4 address are judged by it."""

from __future__ import annotations

import ipaddress

import pytest

from app.domain.addresses import address_allowed, carried_ipv4
from app.domain.errors import ErrorList
from app.domain.events.webhooks import validate_url

REFUSED = [
    # IPv4 special-purpose registry, one address of every entry
    "0.0.0.0",
    "0.1.2.3",
    "10.1.2.3",
    "100.64.0.1",  # shared address space (CGNAT)
    "100.127.255.254",
    "127.0.0.1",
    "127.8.9.10",
    "169.254.169.254",  # cloud metadata
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.9",  # PCP anycast (IETF protocol assignments)
    "192.0.0.170",  # NAT64 discovery
    "192.0.2.10",
    "192.31.196.1",  # AS112
    "192.52.193.1",  # AMT
    "192.88.99.1",  # 6to4 relay anycast
    "192.168.1.1",
    "192.175.48.1",  # direct delegation AS112
    "198.18.0.1",  # benchmarking
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.251",  # multicast
    "240.0.0.1",
    "255.255.255.255",
    # IPv6 special-purpose registry, and what lies outside global unicast
    "::",
    "::1",
    "::ffff:127.0.0.1",  # IPv4-mapped: judged by the IPv4 address
    "::ffff:10.0.0.1",
    "::ffff:0:a00:1",  # IPv4-translated (SIIT)
    "::a00:1",  # IPv4-compatible (deprecated)
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::1",  # local-use translation
    "100::1",  # discard-only
    "100:0:0:1::1",  # dummy prefix
    "2001:2::1",  # benchmarking (in 2001::/23)
    "2001:20::1",  # ORCHIDv2 (in 2001::/23)
    "2001:db8::1",
    "2620:4f:8000::1",
    "3fff::1",
    "5f00::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fec0::1",  # site-local
    "feff::1",
    "ff02::1",
    # 6to4 and Teredo: judged by the IPv4 address they carry
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2002:6440:1::",  # 6to4 of 100.64.0.1
    "2001:0:5db8:d822:0:0:f5ff:fffe",  # Teredo, client 10.0.0.1 (obfuscated as f5ff:fffe)
    "2001:0:a00:1::5db8:d822",  # Teredo, server 10.0.0.1
]
ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "100.128.0.1",  # just past the shared address space
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "::ffff:93.184.216.34",
    "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34
    "2002:5db8:d822::1",  # 6to4 of 93.184.216.34
    "2001:0:5db8:d822:0:0:a247:27dd",  # Teredo: server and client (93.184.216.34, 93.184.216.34)
]


@pytest.mark.parametrize("address", REFUSED)
def test_special_purpose_addresses_are_refused(address: str) -> None:
    assert not address_allowed(address), address


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_allowed(address), address


def test_embedded_ipv4_addresses_are_found() -> None:
    assert carried_ipv4(ipaddress.ip_address("2002:7f00:1::1")) == [ipaddress.IPv4Address("127.0.0.1")]
    server, client = carried_ipv4(ipaddress.ip_address("2001:0:5db8:d822:0:0:f5ff:fffe"))
    assert (str(server), str(client)) == ("93.184.216.34", "10.0.0.1")


def test_loopback_is_allowed_only_when_asked_and_nothing_else_with_it() -> None:
    for address in ("127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"):
        assert address_allowed(address, allow_loopback=True), address
    for address in ("10.0.0.1", "169.254.169.254", "fe80::1", "0.0.0.0"):
        assert not address_allowed(address, allow_loopback=True), address


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/x",
        "https://169.254.169.254/latest/meta-data",
        "http://[fec0::1]/",
        "http://100.64.0.1:8080/",
        "http://[2002:7f00:1::1]/",
        "http://127.0.0.1:9000/hooks",
        "http://[::ffff:192.168.0.1]/",
    ],
)
def test_an_address_in_a_refused_range_is_refused_at_creation(url: str) -> None:
    errors = ErrorList()
    validate_url(url, errors)
    assert [(e.field, e.message) for e in errors.errors] == [("url", "address not allowed")]


@pytest.mark.parametrize("url", ["http://[zz/", "http://hooks.example.com:99999/", "https://", "hooks.example.com"])
def test_urls_that_do_not_parse_are_named(url: str) -> None:
    errors = ErrorList()
    validate_url(url, errors)
    assert [e.field for e in errors.errors] == ["url"]


def test_host_names_are_left_to_the_connection() -> None:
    errors = ErrorList()
    validate_url("https://hooks.example.com/crm", errors)
    validate_url("http://localhost:8080/", errors)  # judged by what it resolves to, when connecting
    validate_url("http://127.0.0.1:9000/hooks", errors, allow_loopback=True)
    assert errors.errors == []
