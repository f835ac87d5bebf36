#!/usr/bin/env python3
"""Format converters for capture fixtures that cannot be captured on Linux.

Linux writes little-endian files and never produces BSD null/loopback framing, so
these are rewritten from real Linux captures, byte for byte, and then checked by
tshark (an independent reader) in make-format-fixtures.sh.

  be-pcap IN OUT            classic pcap -> the same file big-endian (magic kept: us or ns)
  null IN OUT le|be 0|108   Ethernet classic pcap -> LINKTYPE_NULL (0) or LOOP (108):
                            Ethernet header replaced by a 4-byte address family,
                            AF_INET 2; AF_INET6 cycling 24 (Net/OpenBSD), 28 (FreeBSD),
                            30 (Darwin). NULL stores the AF in the writer's byte order
                            (le|be, the file header follows it); LOOP always big-endian.
  linktype IN OUT N         classic pcap with its header LINKTYPE replaced by N
  be-pcapng IN OUT          pcapng -> big-endian pcapng (SHB, IDB, EPB, SPB kept; other
                            blocks and options dropped)
  sections OUT A.pcap       pcapng, three little-endian sections from one Ethernet pcap:
                            1) if_tsresol 10^-9, EPBs, an OPB, an NRB, an ISB and an
                               unknown block type; 2) if_tsresol 2^-20 and if_tsoffset
                               1000 s; 3) SPBs (no timestamps). One snaplen throughout,
                            so that libpcap (which wants one) reads it too
  mixed OUT A B C           pcapng: section 1 little-endian with two interfaces (A's
                            and B's link types, packets merged in time order), section 2
                            big-endian with C's link type, if_tsresol 10^-4
"""
import struct
import sys


def read_pcap(path):
    data = open(path, 'rb').read()
    m = data[:4]
    if m in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        e = '<'
    elif m in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '>'
    else:
        raise SystemExit(path + ': not classic pcap')
    magic, vmaj, vmin, zone, sig, snap, lt = struct.unpack(e + 'IHHiIII', data[:24])
    ns = magic == 0xA1B23C4D
    recs = []
    off = 24
    while off + 16 <= len(data):
        s, f, cap, orig = struct.unpack(e + 'IIII', data[off:off + 16])
        recs.append((s, f if ns else f * 1000, orig, data[off + 16:off + 16 + cap]))
        off += 16 + cap
    return dict(ns=ns, snap=snap, lt=lt & 0xFFFF, recs=recs)


def write_pcap(path, e, ns, snap, lt, recs):
    out = [struct.pack(e + 'IHHiIII', 0xA1B23C4D if ns else 0xA1B2C3D4, 2, 4, 0, 0, snap, lt)]
    for s, nsec, orig, d in recs:
        out.append(struct.pack(e + 'IIII', s, nsec if ns else nsec // 1000, len(d), orig) + d)
    open(path, 'wb').write(b''.join(out))


def pad4(b):
    return b + b'\0' * (-len(b) % 4)


def block(e, btype, body):
    body = pad4(body)
    n = len(body) + 12
    return struct.pack(e + 'II', btype, n) + body + struct.pack(e + 'I', n)


def opts(e, items):
    if not items:
        return b''
    out = b''
    for code, val in items:
        out += struct.pack(e + 'HH', code, len(val)) + pad4(val)
    return out + struct.pack(e + 'HH', 0, 0)


def shb(e):
    return block(e, 0x0A0D0D0A, struct.pack(e + 'IHHq', 0x1A2B3C4D, 1, 0, -1)
                 + opts(e, [(4, b'umbra test/tools/pcap-convert.py')]))


def idb(e, lt, snap=0, tsresol=None, tsoffset=None, name=None):
    o = []
    if name:
        o.append((2, name.encode()))
    if tsresol is not None:
        o.append((9, bytes([tsresol])))
    if tsoffset is not None:
        o.append((14, struct.pack(e + 'q', tsoffset)))
    return block(e, 1, struct.pack(e + 'HHI', lt, 0, snap) + opts(e, o))


def units(sec, nsec, tsresol, tsoffset=0):
    sec -= tsoffset
    if tsresol & 0x80:
        return (sec << (tsresol & 0x7F)) + (nsec << (tsresol & 0x7F)) // 1_000_000_000
    p = 10 ** tsresol
    return sec * p + nsec * p // 1_000_000_000


def epb(e, ifid, sec, nsec, orig, d, tsresol=6, tsoffset=0):
    t = units(sec, nsec, tsresol, tsoffset)
    return block(e, 6, struct.pack(e + 'IIIII', ifid, t >> 32, t & 0xFFFFFFFF, len(d), orig) + d)


def opb(e, ifid, sec, nsec, orig, d, tsresol=6):
    t = units(sec, nsec, tsresol)
    return block(e, 2, struct.pack(e + 'HHIIII', ifid, 0, t >> 32, t & 0xFFFFFFFF, len(d), orig) + d)


def spb(e, orig, d):
    return block(e, 3, struct.pack(e + 'I', orig) + d)


def be_pcapng(src, dst):
    data = open(src, 'rb').read()
    off = 0
    out = []
    e = '<'
    ifres = []
    while off + 12 <= len(data):
        btype = struct.unpack('<I', data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            e = '<' if data[off + 8:off + 12] == b'\x4d\x3c\x2b\x1a' else '>'
            ifres = []
        btype, blen = struct.unpack(e + 'II', data[off:off + 8])
        body = data[off + 8:off + blen - 4]
        off += blen
        if btype == 0x0A0D0D0A:
            out.append(shb('>'))
        elif btype == 1:
            lt, _, snap = struct.unpack(e + 'HHI', body[:8])
            res, tsoff, p = 6, None, 8
            while p + 4 <= len(body):
                code, ln = struct.unpack(e + 'HH', body[p:p + 4])
                v = body[p + 4:p + 4 + ln]
                if code == 0:
                    break
                if code == 9:
                    res = v[0]
                if code == 14:
                    tsoff = struct.unpack(e + 'q', v)[0]
                p += 4 + ln + (-ln % 4)
            ifres.append(res)
            out.append(idb('>', lt, snap, res, tsoff))
        elif btype == 6:
            ifid, hi, lo, cap, orig = struct.unpack(e + 'IIIII', body[:20])
            out.append(block('>', 6, struct.pack('>IIIII', ifid, hi, lo, cap, orig) + body[20:20 + cap]))
        elif btype == 3:
            orig = struct.unpack(e + 'I', body[:4])[0]
            out.append(block('>', 3, struct.pack('>I', orig) + body[4:]))
    open(dst, 'wb').write(b''.join(out))


def main():
    cmd = sys.argv[1]
    a = sys.argv[2:]
    if cmd == 'be-pcap':
        p = read_pcap(a[0])
        write_pcap(a[1], '>', p['ns'], p['snap'], p['lt'], p['recs'])
    elif cmd == 'null':
        p = read_pcap(a[0])
        assert p['lt'] == 1
        order, lt = a[2], int(a[3])
        e = '<' if order == 'le' else '>'
        afe = '>' if lt == 108 else e
        recs, i6 = [], 0
        for s, n, orig, d in p['recs']:
            et = struct.unpack('!H', d[12:14])[0]
            if et == 0x0800:
                af = 2
            elif et == 0x86DD:
                af = (24, 28, 30)[i6 % 3]
                i6 += 1
            else:
                continue
            recs.append((s, n, orig - 10, struct.pack(afe + 'I', af) + d[14:]))
        write_pcap(a[1], e, p['ns'], p['snap'], lt, recs)
    elif cmd == 'linktype':
        p = read_pcap(a[0])
        write_pcap(a[1], '<', p['ns'], p['snap'], int(a[2]), p['recs'])
    elif cmd == 'be-pcapng':
        be_pcapng(a[0], a[1])
    elif cmd == 'sections':
        p = read_pcap(a[1])
        r = p['recs']
        third = max(1, len(r) // 3)
        e = '<'
        out = [shb(e), idb(e, p['lt'], p['snap'], 9, None, 'sec1-ns')]
        for i, (s, n, orig, d) in enumerate(r[:third]):
            if i == 1:
                out.append(block(e, 0x0000ABCD, b'unknown block, skip me'))
                out.append(block(e, 4, struct.pack(e + 'HH', 1, 8) + bytes([10, 0, 0, 1]) + b'abc\0' + struct.pack(e + 'HH', 0, 0)))
            if i == 2:
                out.append(opb(e, 0, s, n, orig, d, 9))
            else:
                out.append(epb(e, 0, s, n, orig, d, 9))
        out.append(block(e, 5, struct.pack(e + 'III', 0, 0, 0)))
        out += [shb(e), idb(e, p['lt'], p['snap'], 0x80 | 20, 1000, 'sec2-bin20-offset')]
        for s, n, orig, d in r[third:2 * third]:
            out.append(epb(e, 0, s, n, orig, d, 0x80 | 20, 1000))
        out += [shb(e), idb(e, p['lt'], p['snap'], None, None, 'sec3-spb')]
        for s, n, orig, d in r[2 * third:]:
            out.append(spb(e, orig, d))
        open(a[0], 'wb').write(b''.join(out))
    elif cmd == 'mixed':
        A, B, C = read_pcap(a[1]), read_pcap(a[2]), read_pcap(a[3])
        merged = sorted([(s, n, 0, o, d) for s, n, o, d in A['recs']] + [(s, n, 1, o, d) for s, n, o, d in B['recs']],
                        key=lambda x: (x[0], x[1], x[2]))
        out = [shb('<'), idb('<', A['lt'], 0, 9, None, 'A'), idb('<', B['lt'], 0, 6, None, 'B')]
        for s, n, ifid, o, d in merged:
            out.append(epb('<', ifid, s, n, o, d, 9 if ifid == 0 else 6))
        out += [shb('>'), idb('>', C['lt'], 0, 4, None, 'C')]
        for s, n, o, d in C['recs']:
            out.append(epb('>', 0, s, n, o, d, 4))
        open(a[0], 'wb').write(b''.join(out))
    else:
        raise SystemExit('unknown command ' + cmd)


main()
