#!/usr/bin/env python3
"""Peer for format-traffic.py: a dual-stack TCP server on 8080 that answers each
connection with a short reply, and a UDP socket on 5300 that swallows datagrams
(so no ICMP port-unreachable). Runs until killed."""
import socket
import threading

def udp_sink():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(('::', 5300))
    while True:
        s.recvfrom(65535)

threading.Thread(target=udp_sink, daemon=True).start()
srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('::', 8080))
srv.listen(16)
while True:
    c, _ = srv.accept()
    try:
        c.settimeout(2)
        c.recv(4096)
        c.sendall(b'HTTP/1.1 204 No Content\r\n\r\n')
    except OSError:
        pass
    c.close()
