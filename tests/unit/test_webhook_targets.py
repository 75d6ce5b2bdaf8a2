"""The webhook guard (``shared.http.ssrf``, ADR 0021): internal addresses refused in every
spelling and behind every name, with a fake resolver; nothing is connected to."""

from __future__ import annotations

import pytest

from shared.http.ssrf import TargetGuard, UnsafeTarget, pinned_request
from tests.support.fake_resolver import FakeResolver

RESOLVER = FakeResolver(
    {
        "localhost": ["127.0.0.1"],
        "metadata.google.internal": ["169.254.169.254"],
        "intranet.example.org": ["10.1.2.3"],
        "mixed.example.org": ["93.184.216.34", "192.168.1.10"],
        "mapped.example.org": ["::ffff:127.0.0.1"],
        "hooks.example.org": ["93.184.216.34"],
        "v6.example.org": ["2606:4700:4700::1111"],
    }
)

REFUSED = [
    # loopback, in every spelling the C library reads
    "https://127.0.0.1/hook",
    "https://127.0.0.1:8003/v1/invoices",
    "https://2130706433/hook",
    "https://0177.0.0.1/hook",
    "https://0x7f.1/hook",
    "https://0x7f000001/hook",
    "https://017700000001/hook",
    "https://127.1/hook",
    "https://127.0.1/hook",
    "https://127.255.255.254/hook",
    "https://[::1]/hook",
    "https://[0:0:0:0:0:0:0:1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:7f00:1]/hook",
    "https://[0:0:0:0:0:ffff:127.0.0.1]/hook",
    "https://[::127.0.0.1]/hook",
    "https://localhost/hook",
    # cloud metadata, link-local
    "https://169.254.169.254/latest/meta-data/",
    "https://0xa9fea9fe/latest/meta-data/",
    "https://[fe80::1]/hook",
    "https://[fe80::1%25eth0]/hook",
    "https://metadata.google.internal/computeMetadata/v1/",
    # private, CGNAT, unspecified, multicast, reserved, benchmarking
    "https://10.0.0.1/hook",
    "https://012.0.0.1/hook",
    "https://172.16.5.4/hook",
    "https://192.168.0.1/hook",
    "https://100.64.0.1/hook",
    "https://100.127.255.254/hook",
    "https://0.0.0.0/hook",
    "https://0/hook",
    "https://[::]/hook",
    "https://224.0.0.1/hook",
    "https://239.255.255.250/hook",
    "https://[ff02::1]/hook",
    "https://240.0.0.1/hook",
    "https://255.255.255.255/hook",
    "https://198.18.0.1/hook",
    "https://[fc00::1]/hook",
    "https://[fd12:3456::1]/hook",
    # IPv4 inside IPv6: 6to4, NAT64, Teredo
    "https://[2002:7f00:1::]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
    # names that resolve inside
    "https://intranet.example.org/hook",
    "https://mixed.example.org/hook",
    "https://mapped.example.org/hook",
    # not https, credentials, unknown names
    "http://hooks.example.org/hook",
    "ftp://hooks.example.org/hook",
    "https://user:pass@hooks.example.org/hook",
    "https://unknown.example.org/hook",
]


def test_at_least_25_spellings_are_covered() -> None:
    assert len(REFUSED) >= 25


@pytest.mark.parametrize("url", REFUSED)
async def test_internal_targets_are_refused_in_every_spelling(url: str) -> None:
    with pytest.raises(UnsafeTarget) as refused:
        await TargetGuard(RESOLVER).check(url)
    assert refused.value.args[0][0].isupper()  # a French sentence for the caller


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://hooks.example.org/hook", "93.184.216.34"),
        ("https://93.184.216.34:8443/hook", "93.184.216.34"),
        ("https://v6.example.org/hook", "2606:4700:4700::1111"),
    ],
)
async def test_public_targets_pass_with_the_address_to_connect_to(url: str, address: str) -> None:
    target = await TargetGuard(RESOLVER).check(url)
    assert str(target.address) == address


async def test_the_request_goes_to_the_checked_address_under_the_names_host() -> None:
    target = await TargetGuard(RESOLVER).check("https://hooks.example.org:8443/in?x=1")
    url, headers, extensions = pinned_request(target)
    assert url == "https://93.184.216.34:8443/in?x=1"
    assert headers == {"Host": "hooks.example.org:8443"}
    assert extensions == {"sni_hostname": "hooks.example.org"}

    v6 = pinned_request(await TargetGuard(RESOLVER).check("https://v6.example.org/x"))
    assert v6[0] == "https://[2606:4700:4700::1111]:443/x"
    assert v6[1] == {"Host": "v6.example.org"}


async def test_an_explicit_allow_list_lets_a_local_receiver_through() -> None:
    guard = TargetGuard(RESOLVER, allowed_networks=["127.0.0.0/8"], schemes=("https", "http"))
    assert str((await guard.check("http://localhost:8080/x")).address) == "127.0.0.1"
    with pytest.raises(UnsafeTarget):
        await guard.check("http://169.254.169.254/")


async def test_a_name_that_rebinds_to_an_internal_address_is_refused_at_the_next_check() -> None:
    resolver = FakeResolver({"rebind.example.org": ["93.184.216.34"]})
    guard = TargetGuard(resolver)
    await guard.check("https://rebind.example.org/hook")

    resolver.answers["rebind.example.org"] = ["127.0.0.1"]
    with pytest.raises(UnsafeTarget):
        await guard.check("https://rebind.example.org/hook")
    assert resolver.asked == ["rebind.example.org"] * 2
