#!/usr/bin/env python3
"""Traffic for the capture-format fixtures (test/tools/make-format-fixtures.sh).

Run inside the client namespace. Sends small UDP datagrams and one TCP exchange to
the peer (v4 and/or v6), and on request: large UDP datagrams (fragmented), IPv4
options (record route), IPv6 hop-by-hop and destination-options headers.
Usage: format-traffic.py MODE PEER4 PEER6   MODE in basic|v4only|frag4|frag6|opts4|ext6
"""
import socket
import sys
import time

mode, peer4, peer6 = sys.argv[1], sys.argv[2], sys.argv[3]
PORT_UDP = 5300
PORT_TCP = 8080


def udp(family, addr, payload, setup=None):
    s = socket.socket(family, socket.SOCK_DGRAM)
    if setup:
        setup(s)
    s.sendto(payload, (addr, PORT_UDP))
    s.close()


def tcp(family, addr, payload):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:  # a peer that never answers (the tun device) leaves SYN retransmissions
        s.connect((addr, PORT_TCP))
        s.sendall(payload)
        s.recv(4096)
    except OSError:
        pass
    s.close()


def both(fn):
    fn(socket.AF_INET, peer4)
    if mode != 'v4only':
        fn(socket.AF_INET6, peer6)


if mode in ('basic', 'v4only'):
    both(lambda f, a: udp(f, a, b'umbra-format-fixture-udp'))
    both(lambda f, a: tcp(f, a, b'GET / HTTP/1.1\r\nHost: fixture.example\r\n\r\n'))
elif mode in ('frag4', 'frag6'):
    # 4000-byte UDP payload over a 1500 MTU: 3 fragments each
    f, a = (socket.AF_INET, peer4) if mode == 'frag4' else (socket.AF_INET6, peer6)
    udp(f, a, bytes((i * 7) & 0xff for i in range(4000)))
elif mode == 'opts4':
    # record route: type 7, length 11 (2 slots), pointer 4, then EOL padding to 12
    rr = bytes([7, 11, 4] + [0] * 8 + [0])
    udp(socket.AF_INET, peer4, b'umbra-ipv4-options', lambda s: s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, rr))
elif mode == 'ext6':
    # hop-by-hop and destination options, each one PadN option filling 8 bytes
    padn = bytes([0, 0, 1, 4, 0, 0, 0, 0])
    def ext(s):
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, padn)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, padn)
    udp(socket.AF_INET6, peer6, b'umbra-ipv6-ext-headers', ext)
    # and one large enough to fragment: hop-by-hop, fragment, dest-options, UDP
    udp(socket.AF_INET6, peer6, bytes((i * 13) & 0xff for i in range(3000)), ext)
else:
    sys.exit('unknown mode ' + mode)
time.sleep(0.3)
