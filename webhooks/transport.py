"""HTTP POSTs to customers' URLs that cannot be turned against our own network.

The host is resolved once; every address it resolves to must be public (loopback only
when ``allow_loopback`` is set, for the test suite); the connection goes to that
checked address, so a DNS answer that changes between check and connect (rebinding)
cannot redirect it. Redirects are never followed.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_RESPONSE_BYTES = 2048

# Cloud metadata services, refused even where an address range would otherwise pass.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254",
                                      "100.100.100.200")
)


class UnsafeUrl(Exception):
    """The URL may not be called; the message says why, for the customer.

    Waiting does not change the answer: an address that is not public, a scheme other
    than http(s), credentials in the URL.
    """


class HostUnresolved(UnsafeUrl):
    """The host name has no address now; DNS may answer later (an outage, a new record)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    ip: str


@dataclass(frozen=True)
class Result:
    status: int
    body: str
    ip: str
    duration_ms: int


def _refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> str:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "" if allow_loopback else "a loopback address"
    for label, flag in (
        ("an unspecified address", ip.is_unspecified),
        ("a link-local address", ip.is_link_local),
        ("a multicast address", ip.is_multicast),
        ("a private address", ip.is_private),
        ("a reserved address", ip.is_reserved),
        ("a non-public address", not ip.is_global),
    ):
        if flag:
            return label
    return ""


def resolve_target(url: str, *, allow_loopback: bool) -> Target:
    """Check the URL and resolve its host once.

    Raises UnsafeUrl for a URL that may not be called, HostUnresolved (a kind of
    UnsafeUrl) for a host name that does not resolve now.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"The URL is not valid ({exc}).") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise UnsafeUrl("The URL has no host name.")
    if parts.username or parts.password:
        raise UnsafeUrl("Put credentials in the webhook's secret, not in the URL.")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError:
        raise UnsafeUrl(f"The host name '{host}' is not a valid name.") from None
    except socket.gaierror:
        raise HostUnresolved(f"The host name '{host}' does not resolve.") from None
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        reason = _refusal(ip, allow_loopback)
        if reason:
            raise UnsafeUrl(f"'{host}' resolves to {ip}, {reason}; webhooks go to the public "
                            "internet only.")
        addresses.append(str(ip))
    if not addresses:
        raise HostUnresolved(f"The host name '{host}' does not resolve.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, addresses[0])


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed IP, with the certificate checked against the URL's host name."""

    def __init__(self, ip: str, host: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._ip = ip

    def connect(self):
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, ip: str, host: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self):
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


def post(
    url: str, *, body: bytes, headers: dict[str, str], timeout: float, allow_loopback: bool
) -> Result:
    """POST ``body`` to ``url``. Raises UnsafeUrl, or OSError/HTTPException on failure.

    A 3xx answer is returned as it is; its Location is not followed.
    """
    target = resolve_target(url, allow_loopback=allow_loopback)
    connection_class = (
        _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    )
    conn = connection_class(target.ip, target.host, target.port, timeout)
    began = time.monotonic()
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read(MAX_RESPONSE_BYTES)
        return Result(
            status=response.status,
            body=answer.decode("utf-8", "replace"),
            ip=target.ip,
            duration_ms=round((time.monotonic() - began) * 1000),
        )
    finally:
        conn.close()
