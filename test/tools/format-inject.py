#!/usr/bin/env python3
"""Helpers for test/tools/make-format-fixtures.sh that the kernel here cannot do for us.

  tun NAME            open a tun device NAME (LINKTYPE_RAW on capture) and answer
                      every UDP datagram sent into it with the same datagram,
                      addresses and ports swapped (checksums stay valid), until killed.
  vlan IFACE PCAP     re-send every IPv4/IPv6 frame of an Ethernet PCAP on IFACE with
                      one 802.1Q tag (VLAN 100) through an AF_PACKET socket.
  qinq IFACE PCAP     the same with an 802.1ad outer tag (S-VLAN 200) and an 802.1Q
                      inner tag (C-VLAN 300).

This kernel has no 8021q module (`ip link add ... type vlan` fails with "Unknown
device type"), so tagged frames are built from real captured frames and put on the
wire by a packet socket; tcpdump then captures them as any tagged traffic.
"""
import fcntl
import os
import socket
import struct
import sys
import time


def tun(name):
    fd = os.open('/dev/net/tun', os.O_RDWR)
    ifr = struct.pack('16sH', name.encode(), 0x0001 | 0x1000)  # IFF_TUN | IFF_NO_PI
    fcntl.ioctl(fd, 0x400454CA, ifr)  # TUNSETIFF
    print('ready', flush=True)
    while True:
        pkt = bytearray(os.read(fd, 65536))
        v = pkt[0] >> 4
        if v == 4 and pkt[9] == 17:
            ihl = (pkt[0] & 15) * 4
            pkt[12:16], pkt[16:20] = pkt[16:20], pkt[12:16]
            pkt[ihl:ihl + 2], pkt[ihl + 2:ihl + 4] = pkt[ihl + 2:ihl + 4], pkt[ihl:ihl + 2]
            os.write(fd, bytes(pkt))
        elif v == 6 and pkt[6] == 17:
            pkt[8:24], pkt[24:40] = pkt[24:40], pkt[8:24]
            pkt[40:42], pkt[42:44] = pkt[42:44], pkt[40:42]
            os.write(fd, bytes(pkt))


def frames(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    assert magic in (0xA1B2C3D4, 0xA1B23C4D), 'little-endian classic pcap expected'
    assert struct.unpack('<I', data[20:24])[0] == 1, 'Ethernet expected'
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack('<IIII', data[off:off + 16])
        yield data[off + 16:off + 16 + caplen]
        off += 16 + caplen


def tagged(iface, path, tags):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    n = 0
    for fr in frames(path):
        etype = struct.unpack('!H', fr[12:14])[0]
        if etype not in (0x0800, 0x86DD):
            continue
        head = fr[:12]
        for tpid, vid in tags:
            head += struct.pack('!HH', tpid, vid)
        s.send(head + fr[12:])
        n += 1
        time.sleep(0.01)
    print(f'sent {n} tagged frames on {iface}')


mode = sys.argv[1]
if mode == 'tun':
    tun(sys.argv[2])
elif mode == 'vlan':
    tagged(sys.argv[2], sys.argv[3], [(0x8100, 100)])
elif mode == 'qinq':
    tagged(sys.argv[2], sys.argv[3], [(0x88A8, 200), (0x8100, 300)])
else:
    sys.exit('unknown mode ' + mode)
