#!/usr/bin/env python3
"""Writes DIR/EXPECTED.json: what independent readers (tshark, capinfos, tcpdump)
see in every *.pcap / *.pcapng of DIR. Our tests compare Umbra's readers and
decoders with it; nothing here comes from Umbra's code.

Per file: link types of the interfaces that carry packets, in (section, interface)
order (tshark's encapsulation mapped to LINKTYPE numbers by the table below, from
tcpdump.org/linktypes.html), per packet [sec, nsec, caplen, len, interface_id
(within its pcapng section), md5 of the captured bytes, LINKTYPE] from tshark, the UDP/TCP packets tshark
decodes (IP fragments reassembled by tshark, tunnels and ICMP-quoted headers left
out), and whether tcpdump (libpcap) reads the file.
Usage: format-expected.py DIR
"""
import json
import os
import subprocess
import sys

# Wireshark's encapsulation numbers (frame.encap_type; names from `capinfos -E`:
# ether, rawip, null, loop, linux-sll, linux-sll2, user0) -> LINKTYPE_* values.
WTAP_ENCAP_TO_LINKTYPE = {1: 1, 7: 101, 15: 0, 174: 108, 25: 113, 210: 276, 45: 147}


def run(args):
    return subprocess.run(args, capture_output=True, text=True)


def ts(s):
    if not s:
        return [0, 0]
    sec, _, frac = s.partition('.')
    return [int(sec), int((frac + '000000000')[:9])]


def analyse(path):
    fields = ['frame.time_epoch', 'frame.cap_len', 'frame.len', 'frame.interface_id', 'frame.md5_hash', 'frame.encap_type',
              'frame.section_number']
    r = run(['tshark', '-r', path, '-n', '-o', 'frame.generate_md5_hash:TRUE', '-T', 'fields', '-E', 'separator=\t',
             *sum([['-e', f] for f in fields], [])])
    packets, linktypes = [], {}
    for line in r.stdout.splitlines():
        t, cap, ln, ifid, md5, encap, section = line.split('\t')
        lt = WTAP_ENCAP_TO_LINKTYPE.get(int(encap), -1)
        ifid = int(ifid or 0)
        linktypes.setdefault((int(section or 1), ifid), lt)
        packets.append([*ts(t), int(cap), int(ln), ifid, md5, lt])
    l4f = ['frame.number', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'udp.srcport', 'udp.dstport', 'udp.length',
           'tcp.srcport', 'tcp.dstport', 'tcp.len', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.flags']
    r4 = run(['tshark', '-r', path, '-n', '-Y', '(udp or tcp) and not icmp and not icmpv6 and not ip.proto==4',
              '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=f', *sum([['-e', f] for f in l4f], [])])
    l4 = []
    for line in r4.stdout.splitlines():
        v = dict(zip(l4f, line.split('\t')))
        udp = v['udp.srcport'] != ''
        l4.append({
            'frame': int(v['frame.number']),
            'src': v['ip.src'] or v['ipv6.src'], 'dst': v['ip.dst'] or v['ipv6.dst'],
            'transport': 'udp' if udp else 'tcp',
            'srcPort': int(v['udp.srcport'] if udp else v['tcp.srcport']),
            'dstPort': int(v['udp.dstport'] if udp else v['tcp.dstport']),
            'payloadLength': int(v['udp.length']) - 8 if udp else int(v['tcp.len']),
            'seq': 0 if udp else int(v['tcp.seq_raw']),
            'ack': 0 if udp else int(v['tcp.ack_raw']),
            'flags': 0 if udp else int(v['tcp.flags'], 16),
        })
    td = run(['tcpdump', '-r', path, '-n', '-tt'])
    cap = run(['capinfos', '-M', '-c', path])
    count = None
    for line in cap.stdout.splitlines():
        if 'Number of packets' in line:
            count = int(line.split(':')[-1].strip().split()[0])
    return {
        'capinfosPackets': count,
        'tsharkWarnings': r.stderr.strip(),
        'linkTypes': [linktypes[k] for k in sorted(linktypes)],
        'packets': packets,
        'first': packets[0][:2] if packets else None,
        'last': packets[-1][:2] if packets else None,
        'l4': l4,
        # tcpdump uses the same libpcap as the npm `pcap` package: whether it reads
        # the whole file, how many packets it gets before an error, and the error
        'libpcapReads': td.returncode == 0 and 'tcpdump:' not in td.stderr.replace('reading from file', ''),
        'libpcapPackets': len(td.stdout.splitlines()),
        'libpcapMessage': td.stderr.strip().splitlines()[-1] if td.stderr.strip() else '',
    }


d = sys.argv[1]
out = {}
for name in sorted(os.listdir(d)):
    if name.endswith('.pcap') or name.endswith('.pcapng'):
        out[name] = analyse(os.path.join(d, name))
        e = out[name]
        print(f"{name}: {len(e['packets'])} packets, link types {e['linkTypes']}, {len(e['l4'])} udp/tcp, libpcap {'ok' if e['libpcapReads'] else 'NO: ' + e['libpcapMessage']}")
with open(os.path.join(d, 'EXPECTED.json'), 'w') as f:
    json.dump({'generatedBy': 'test/tools/format-expected.py (tshark, capinfos, tcpdump)', 'files': out}, f, indent=1)
    f.write('\n')
