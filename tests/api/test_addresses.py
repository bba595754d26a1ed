"""The client's network behind trusted proxies, and IPv6 keyed by /64."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from reclaim.api.addresses import client_address, parse_address, rate_key
from tests.api.people import registry_app, send

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # No trusted proxy in front: the header is the client's own word.
        ("198.51.100.7", ["203.0.113.1"], "198.51.100.7"),
        # The client's own entries are left of the one the proxy appended.
        ("10.0.0.2", ["1.2.3.4, 5.6.7.8, 198.51.100.7"], "198.51.100.7"),
        # Two proxies: the rightmost entry that is not one of them.
        ("10.0.0.2", ["1.2.3.4, 198.51.100.7, 10.0.0.9"], "198.51.100.7"),
        # Several headers read as one list, in order.
        ("10.0.0.2", ["1.2.3.4", "198.51.100.7"], "198.51.100.7"),
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", ["10.0.0.5, 10.0.0.9"], "10.0.0.5"),
        # Garbage where a proxy's entry should be: the last hop we trust.
        ("10.0.0.2", ["198.51.100.7, not-an-address"], "10.0.0.2"),
        ("fd00::2", ["[2001:db8::1]:4431"], "2001:db8::1"),
        ("10.0.0.2", ["198.51.100.7:4431"], "198.51.100.7"),
        ("::ffff:10.0.0.2", ["::ffff:198.51.100.7"], "198.51.100.7"),
        (None, ["198.51.100.7"], "unknown"),
    ],
)
def test_rightmost_untrusted_entry(
    peer: str | None, forwarded: list[str], expected: str
) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_networks_a_client_is_limited_as() -> None:
    assert rate_key("198.51.100.7") == "198.51.100.7"
    assert rate_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert rate_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert rate_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert rate_key("testclient") == "testclient"
    assert parse_address("nonsense") is None


def test_a_spoofed_forwarded_for_changes_nothing(tmp_path: Path) -> None:
    """The probe: 200 wrong PINs, each with a new leftmost X-Forwarded-For
    entry, behind a trusted proxy; before, none got a 429."""
    with registry_app(
        tmp_path,
        pin_rate=(30, 3600),
        case_pin_rate=(10**6, 3600),
        case_pin_cap=(10**6, 86400),
        trusted_proxies=(ipaddress.ip_network("127.0.0.1"),),
    ) as (app, _):
        codes = [
            send(
                app,
                "POST",
                "/api/v1/cases/ABC-DEF-GHJ/status",
                address="127.0.0.1",
                headers={"x-forwarded-for": f"192.0.2.{i % 250}, 198.51.100.7"},
                json={"pin": "0000-0000-0000-0000"},
            ).status_code
            for i in range(40)
        ]
        assert codes == [404] * 30 + [429] * 10
        # Another client behind the same proxy is not held.
        other = send(
            app,
            "POST",
            "/api/v1/cases/ABC-DEF-GHJ/status",
            address="127.0.0.1",
            headers={"x-forwarded-for": "198.51.100.8"},
            json={"pin": "0000-0000-0000-0000"},
        )
        assert other.status_code == 404
