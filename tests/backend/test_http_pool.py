"""The Worker's HTTP/1.1 pool against real servers on loopback: how replies are framed, when a
connection is kept, reused or dropped, how many are open, and HTTPS verified by name.

The framing cases use a raw TCP server that writes the exact bytes under test; HTTPS uses an aiohttp
server with a certificate made here.
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from backend.worker_side.http_pool import (
    MAX_REPLY_BYTES,
    MAX_REPLY_HEAD_BYTES,
    ConnectFailed,
    ConnectionLost,
    Http1Pool,
    StaleConnection,
)
from devstack.ports import free_port

pytestmark = pytest.mark.timeout(20)

HEADERS = {"X-API-Key": "k" * 40}
CUT = b"<then close>"  # an answer ending so is written, then the connection closed
RESET = b"<then reset>"  # an answer ending so is written, then the connection reset (RST)


def reply(body: bytes, *extra: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + b"".join(extra)
    return head + b"content-length: %d\r\n\r\n" % len(body) + body


@dataclass
class RawServer:
    """Answers each request with the next scripted bytes (default: `{}`); `None` closes the
    connection without answering. Records each request's head and every connection opened."""

    answers: list[bytes | None] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    hold: asyncio.Event | None = None
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.lower().split(b"\r\n"):
                    if line.startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                if self.hold is not None:
                    await self.hold.wait()
                answer = self.answers.pop(0) if self.answers else reply(b"{}")
                if answer is None:
                    return
                writer.write(answer.removesuffix(CUT).removesuffix(RESET))
                await writer.drain()
                if answer.endswith(RESET):
                    await asyncio.sleep(0.05)
                    linger_zero = struct.pack("ii", 1, 0)  # close sends RST, not FIN
                    writer.get_extra_info("socket").setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, linger_zero
                    )
                    writer.transport.abort()
                    return
                if answer.endswith(CUT) or b"connection: close" in answer.lower():
                    return
        finally:
            self.open_now -= 1
            writer.close()


@pytest.fixture
async def raw() -> AsyncIterator[RawServer]:
    server = RawServer()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        if server.hold is not None:
            server.hold.set()
        listener.close()


@pytest.fixture
async def make_pool() -> AsyncIterator[Callable[..., Http1Pool]]:
    pools: list[Http1Pool] = []

    def make(url: str, **options: object) -> Http1Pool:
        pool = Http1Pool(url, headers=HEADERS, **{"limit": 10, **options})  # type: ignore[arg-type]
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


async def test_a_request_carries_host_key_and_a_json_body_with_its_length(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    pool = make_pool(raw.url + "/base/")
    answer = await pool.request("POST", "/api/internal/x", b'{"a":1}')
    assert (answer.status, answer.body) == (200, b"{}")
    head, body = raw.requests[0].split(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /base/api/internal/x HTTP/1.1"
    port = raw.url.rsplit(":", 1)[1]
    assert f"Host: 127.0.0.1:{port}".encode() in lines
    assert b"X-API-Key: " + b"k" * 40 in lines
    assert b"Content-Type: application/json" in lines
    assert b"Content-Length: 7" in lines
    assert body == b'{"a":1}'


async def test_a_requests_own_headers_follow_the_pools(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    pool = make_pool(raw.url)
    await pool.request("POST", "/hook", b"{}", headers={"Stripe-Signature": "t=1,v1=ab"})
    await pool.request("POST", "/hook", b"{}")
    first, second = (request.split(b"\r\n\r\n")[0].split(b"\r\n") for request in raw.requests)
    assert first.index(b"Stripe-Signature: t=1,v1=ab") > first.index(b"X-API-Key: " + b"k" * 40)
    assert not any(line.startswith(b"Stripe-Signature") for line in second)


async def test_sequential_requests_reuse_one_kept_alive_connection(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    pool = make_pool(raw.url)
    for _ in range(5):
        assert (await pool.request("GET", "/x")).status == 200
    assert raw.connections == 1


async def test_a_chunked_reply_is_read_whole(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    raw.answers = [
        b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n5\r\n:[1]}\r\n0\r\n\r\n'
    ]
    pool = make_pool(raw.url)
    answer = await pool.request("GET", "/x")
    assert (answer.status, answer.body) == (201, b'{"a":[1]}')
    await pool.request("GET", "/x")
    assert raw.connections == 1  # a chunked reply leaves the connection usable


async def test_a_reply_without_length_ends_when_the_server_closes(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    raw.answers = [b'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{"until":"close"}']
    pool = make_pool(raw.url)
    answer = await pool.request("GET", "/x")
    assert answer.body == b'{"until":"close"}'


async def test_connection_close_is_honoured_and_the_next_request_opens_a_new_one(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    raw.answers = [reply(b"{}", b"connection: close\r\n"), reply(b'{"n":2}')]
    pool = make_pool(raw.url)
    await pool.request("GET", "/x")
    answer = await pool.request("GET", "/x")  # never a stale-connection failure
    assert answer.body == b'{"n":2}'
    assert raw.connections == 2


async def test_a_reused_connection_closed_before_any_answer_is_stale_and_a_new_one_is_not(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    raw.answers = [reply(b"{}"), None, None]
    pool = make_pool(raw.url)
    await pool.request("GET", "/x")
    with pytest.raises(StaleConnection):
        await pool.request("GET", "/x")
    with pytest.raises(ConnectionLost):
        await pool.request("GET", "/x", fresh=True)


async def test_a_reply_cut_halfway_is_lost_not_stale(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    raw.answers = [reply(b"{}"), b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n{" + CUT]
    pool = make_pool(raw.url)
    await pool.request("GET", "/x")
    with pytest.raises(ConnectionLost):
        await pool.request("GET", "/x")


async def test_malformed_and_oversized_replies_fail_and_drop_the_connection(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    raw.answers = [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (MAX_REPLY_BYTES + 1)
        + b"x" * (MAX_REPLY_BYTES + 1),
    ]
    pool = make_pool(raw.url)
    with pytest.raises(ConnectionLost, match="malformed"):
        await pool.request("GET", "/x")
    with pytest.raises(ConnectionLost, match="too large"):
        await pool.request("GET", "/x")
    assert (await pool.request("GET", "/x")).status == 200
    assert raw.connections == 3


async def test_a_reply_read_until_close_that_is_reset_is_lost_not_a_truncated_answer(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    raw.answers = [b'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{"trunc' + RESET]
    pool = make_pool(raw.url)
    with pytest.raises(ConnectionLost):
        await pool.request("GET", "/x")


async def test_a_reply_head_past_its_bound_fails_without_reading_it_all(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    endless = b"x-filler: " + b"a" * (4 * MAX_REPLY_HEAD_BYTES) + b"\r\n"
    raw.answers = [b"HTTP/1.1 200 OK\r\n" + endless + b"content-length: 2\r\n\r\n{}"]
    pool = make_pool(raw.url)
    with pytest.raises(ConnectionLost, match="too large"):
        await pool.request("GET", "/x")
    assert (await pool.request("GET", "/x")).status == 200


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ],
)
async def test_an_upgrade_reply_is_an_error_without_a_traceback(
    raw: RawServer,
    make_pool: Callable[..., Http1Pool],
    caplog: pytest.LogCaptureFixture,
    answer: bytes,
) -> None:
    raw.answers = [answer]
    pool = make_pool(raw.url)
    with pytest.raises(ConnectionLost, match="upgrade"):
        await pool.request("GET", "/x", deadline=asyncio.get_running_loop().time() + 2)
    await asyncio.sleep(0.05)
    assert not [r for r in caplog.records if r.exc_info]
    assert (await pool.request("GET", "/x")).status == 200


async def test_a_request_cancelled_just_after_its_reply_arrived_closes_its_connection(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    pool = make_pool(raw.url)
    await pool.request("GET", "/x")
    (connection,) = pool._open
    call = asyncio.create_task(pool.request("GET", "/x"))
    delivered = connection.data_received

    def deliver_then_cancel(data: bytes) -> None:
        delivered(data)  # the reply resolves the call's waiter ...
        call.cancel()  # ... and the call is cancelled before it resumes

    connection.data_received = deliver_then_cancel  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await call
    await asyncio.sleep(0.05)
    assert raw.open_now == 0  # closed, not left open outside the pool
    assert not pool._open
    assert (await pool.request("GET", "/x")).status == 200


async def test_at_most_limit_connections_are_open_and_the_rest_wait(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    raw.hold = asyncio.Event()
    pool = make_pool(raw.url, limit=2)
    calls = [asyncio.create_task(pool.request("GET", "/x")) for _ in range(6)]
    await asyncio.sleep(0.2)
    assert raw.open_now == 2
    raw.hold.set()
    assert [r.status for r in await asyncio.gather(*calls)] == [200] * 6
    assert raw.most_open == 2


async def test_idle_connections_expire_and_are_closed(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    pool = make_pool(raw.url, idle_seconds=0.2)
    await pool.request("GET", "/x")
    await asyncio.sleep(0.3)
    await pool.request("GET", "/x")
    assert raw.connections == 2
    await asyncio.sleep(0.05)
    assert raw.open_now == 1  # the expired one was closed, not left open


async def test_a_cancelled_request_drops_its_connection(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    raw.hold = asyncio.Event()
    pool = make_pool(raw.url)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await pool.request("GET", "/x")
    raw.hold.set()
    raw.answers = [reply(b'{"late":1}'), reply(b'{"second":2}')]
    # The late reply to the cancelled request is never read as this one's.
    assert (await pool.request("GET", "/x")).body == b'{"second":2}'
    assert raw.connections == 2


async def test_a_request_past_its_deadline_times_out_and_drops_its_connection(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    raw.hold = asyncio.Event()
    pool = make_pool(raw.url)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await pool.request("GET", "/x", deadline=started + 0.2)
    assert 0.19 <= loop.time() - started < 0.5
    raw.hold.set()
    raw.answers = [reply(b'{"late":1}'), reply(b'{"second":2}')]
    assert (await pool.request("GET", "/x")).body == b'{"second":2}'
    assert raw.connections == 2


async def test_waiting_for_a_free_connection_counts_against_the_deadline(
    raw: RawServer, make_pool: Callable[..., Http1Pool]
) -> None:
    raw.hold = asyncio.Event()
    pool = make_pool(raw.url, limit=1)
    busy = asyncio.create_task(pool.request("GET", "/x"))
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError):
        await pool.request("GET", "/x", deadline=loop.time() + 0.2)
    raw.hold.set()
    assert (await busy).status == 200
    assert (await pool.request("GET", "/x")).status == 200  # the slot was given back
    assert len(raw.requests) == 2


async def test_a_refused_connection_is_connect_failed(
    make_pool: Callable[..., Http1Pool],
) -> None:
    pool = make_pool(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ConnectFailed):
        await pool.request("GET", "/x")


def test_header_injection_and_unencoded_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="control"):
        Http1Pool("http://w.test", limit=1, headers={"X-API-Key": "k\r\nEvil: 1"})
    with pytest.raises(ValueError, match="http"):
        Http1Pool("ftp://w.test", limit=1, headers={})
    pool = Http1Pool("http://w.test", limit=1, headers={})
    with pytest.raises(ValueError, match="control"):
        asyncio.run(pool.request("GET", "/a", headers={"X-Sig": "1\r\nEvil: 1"}))
    for path in ("/a b", "/a\r\nEvil: 1"):
        with pytest.raises(ValueError, match="percent-encoded"):
            asyncio.run(pool.request("GET", path))


# --- HTTPS ---------------------------------------------------------------------------------------


@dataclass
class TlsServer:
    url: str
    trusted: ssl.SSLContext  # a client context that trusts the server's certificate
    server_names: list[str | None]


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[TlsServer]:
    cert_path, key_path = _certificate(tmp_path)
    names: list[str | None] = []
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    server_context.sni_callback = lambda _sock, name, _ctx: names.append(name)

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"key": request.headers.get("X-API-Key")})

    app = web.Application()
    app.router.add_get("/hello", hello)
    port = free_port()
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server(ssl=server_context)
    trusted = ssl.create_default_context(cafile=str(cert_path))
    try:
        yield TlsServer(f"https://localhost:{port}", trusted, names)
    finally:
        await server.close()


async def test_https_verifies_the_certificate_by_name_and_sends_sni(
    tls_server: TlsServer, make_pool: Callable[..., Http1Pool]
) -> None:
    pool = make_pool(tls_server.url, ssl_context=tls_server.trusted)
    answer = await pool.request("GET", "/hello")
    assert (answer.status, answer.body) == (200, b'{"key": "' + b"k" * 40 + b'"}')
    assert tls_server.server_names == ["localhost"]


async def test_https_to_a_server_whose_certificate_is_not_trusted_fails_before_sending(
    tls_server: TlsServer, make_pool: Callable[..., Http1Pool]
) -> None:
    pool = make_pool(tls_server.url)  # the default context: system CAs only
    with pytest.raises(ConnectFailed, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
        await pool.request("GET", "/hello")


async def test_https_to_a_name_the_certificate_does_not_hold_fails(
    tls_server: TlsServer, make_pool: Callable[..., Http1Pool]
) -> None:
    port = tls_server.url.rsplit(":", 1)[1]
    # The same server by its address: the certificate names only localhost.
    pool = make_pool(f"https://127.0.0.1:{port}", ssl_context=tls_server.trusted)
    with pytest.raises(ConnectFailed, match=r"mismatch|doesn't match"):
        await pool.request("GET", "/hello")
