"""Free loopback ports, for the tests and the benchmark that start servers beside each other."""

from __future__ import annotations

import socket


def free_ports(count: int) -> list[int]:
    """Distinct ports the kernel just handed out; held together so they cannot repeat."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def free_port() -> int:
    (port,) = free_ports(1)
    return port
