#!/usr/bin/env bash
# Makes the capture-format fixtures in test/fixtures/captures/format/ with real
# tools (tcpdump, dumpcap) inside two network namespaces joined by a veth pair, then
# records what tshark/capinfos (independent readers) see in EXPECTED.json.
#
# Captured here: Ethernet (us and ns timestamps), Linux cooked SLL and SLL2
# (`-i any`), raw IP (a tun device: LINKTYPE_RAW), pcapng with two interfaces of
# different link types (dumpcap), IPv4 and IPv6 fragments (ping -s 4000 and a
# 4000-byte UDP datagram), IPv4 options (ping -R and UDP with record route),
# IPv6 hop-by-hop + destination options (UDP, also fragmented).
# 802.1Q and QinQ: this kernel has no 8021q module, so tagged copies of real frames
# are sent through an AF_PACKET socket (test/tools/format-inject.py) and captured by
# tcpdump.
# Not capturable on Linux, so converted byte for byte by test/tools/pcap-convert.py
# and checked by tshark: big-endian classic pcap (us, ns), big-endian pcapng,
# BSD null (both byte orders) and loopback (LINKTYPE_NULL/LOOP), pcapng with several
# sections (if_tsresol 10^-9 and 2^-20, if_tsoffset, OPB, SPB, NRB, ISB, an unknown
# block), pcapng mixing byte orders and link types, an unknown link type, and a file
# whose last record is cut short.
#
# Usage (root): bash test/tools/make-format-fixtures.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/test/fixtures/captures/format
TOOLS=$ROOT/test/tools
NA=umbra-fmt-a
NB=umbra-fmt-b
A4=10.201.0.1 B4=10.201.0.2 A6=fd00:201::1 B6=fd00:201::2
T4=10.201.77.2 T6=fd00:201:77::2
mkdir -p "$OUT"
rm -f "$OUT"/*.pcap "$OUT"/*.pcapng
TMP=$(mktemp -d)
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del $NA 2>/dev/null || true
  ip netns del $NB 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

inA() { ip netns exec $NA "$@"; }
inB() { ip netns exec $NB "$@"; }

ip netns del $NA 2>/dev/null || true
ip netns del $NB 2>/dev/null || true
ip netns add $NA
ip netns add $NB
ip link add va netns $NA type veth peer name vb netns $NB
for ns in $NA $NB; do ip netns exec $ns ip link set lo up; done
inA ip link set va mtu 1500 up
inB ip link set vb mtu 1500 up
inA ethtool -K va tso off gso off gro off tx off >/dev/null 2>&1 || true
inB ethtool -K vb tso off gso off gro off tx off >/dev/null 2>&1 || true
inA ip addr add $A4/24 dev va
inB ip addr add $B4/24 dev vb
inA ip -6 addr add $A6/64 dev va nodad
inB ip -6 addr add $B6/64 dev vb nodad
inA sysctl -qw net.ipv6.conf.all.disable_ipv6=0
ip netns exec $NB python3 "$TOOLS/format-server.py" & PIDS+=($!)
# tun device in A, answered by format-inject.py (LINKTYPE_RAW on capture)
ip netns exec $NA python3 "$TOOLS/format-inject.py" tun tun0 > "$TMP/tun.log" & PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$TMP/tun.log" 2>/dev/null && break; sleep 0.1; done
inA ip link set tun0 mtu 1500 up
inA ip addr add 10.201.77.1/24 dev tun0
inA ip -6 addr add fd00:201:77::1/64 dev tun0 nodad
sleep 1

CAP_PID=
cap() { # cap FILE tcpdump-args...
  local f=$1; shift
  ip netns exec $NA tcpdump --immediate-mode -U -n -w "$OUT/$f" "$@" 2> "$TMP/cap.log" & CAP_PID=$!
  for _ in $(seq 50); do grep -q listening "$TMP/cap.log" 2>/dev/null && break; sleep 0.1; done
  sleep 0.3
}
cap_dumpcap() { # cap_dumpcap FILE dumpcap-args...
  local f=$1; shift
  ip netns exec $NA dumpcap -q -w "$OUT/$f" "$@" 2> "$TMP/cap.log" & CAP_PID=$!
  sleep 2
}
stop() { sleep 1.2; kill -INT $CAP_PID; wait $CAP_PID || true; }  # ip netns exec execs: $! is the capture tool
traffic() { inA python3 "$TOOLS/format-traffic.py" "$1" "${2:-$B4}" "${3:-$B6}"; }

cap eth.pcap -i va;                                            traffic basic; stop
cap eth-ns.pcap -i va --time-stamp-precision=nano;             traffic basic; stop
cap sll.pcap -i any -y LINUX_SLL;                              traffic basic; stop
cap sll2.pcap -i any -y LINUX_SLL2;                            traffic basic; stop
cap raw.pcap -i tun0;                                          traffic basic $T4 $T6; stop
cap_dumpcap two-if.pcapng -i va -i tun0;                       traffic basic; traffic basic $T4 $T6; stop
cap frag-ipv4.pcap -i va;  inA ping -4 -c 2 -i 0.2 -s 4000 $B4 >/dev/null; traffic frag4; stop
cap frag-ipv6.pcap -i va;  inA ping -6 -c 2 -i 0.2 -s 4000 $B6 >/dev/null; traffic frag6; stop
cap ipv4-options.pcap -i va; inA ping -4 -c 2 -i 0.2 -R $B4 >/dev/null; traffic opts4; stop
cap ipv6-ext.pcap -i va;                                       traffic ext6; stop
cap vlan-8021q.pcap -i va; inA python3 "$TOOLS/format-inject.py" vlan va "$OUT/eth.pcap"; stop
cap vlan-qinq.pcap -i va;  inA python3 "$TOOLS/format-inject.py" qinq va "$OUT/eth.pcap"; stop

CONV="python3 $TOOLS/pcap-convert.py"
$CONV be-pcap "$OUT/eth.pcap" "$OUT/eth-be.pcap"
$CONV be-pcap "$OUT/eth-ns.pcap" "$OUT/eth-ns-be.pcap"
$CONV null "$OUT/eth.pcap" "$OUT/null-le.pcap" le 0
$CONV null "$OUT/eth.pcap" "$OUT/null-be.pcap" be 0
$CONV null "$OUT/eth.pcap" "$OUT/loop.pcap" le 108
$CONV be-pcapng "$OUT/two-if.pcapng" "$OUT/two-if-be.pcapng"
$CONV sections "$OUT/sections.pcapng" "$OUT/eth-ns.pcap"
$CONV mixed "$OUT/mixed.pcapng" "$OUT/eth-ns.pcap" "$OUT/raw.pcap" "$OUT/sll2.pcap"
$CONV linktype "$OUT/eth.pcap" "$OUT/unknown-linktype.pcap" 147
size=$(stat -c %s "$OUT/eth.pcap")
head -c $((size - 7)) "$OUT/eth.pcap" > "$OUT/truncated-tail.pcap"

python3 "$TOOLS/format-expected.py" "$OUT"
echo "fixtures in $OUT"
