#!/usr/bin/env bash
# Makes test/fixtures/captures/dns/dig-*.pcap: real `dig` queries (UDP and
# +tcp) answered by a real dnsmasq on port 53 of the loopback of a network
# namespace made for the purpose (so nothing else on the machine is recorded,
# and the captures carry DNS on its real port).
# What dnsmasq is told to answer below is the independent expectation of the
# tests in test/agent/decode/dns.test.ts and test/agent/flow/dns-cache.test.ts;
# keep the two in step. dig's printout of each exchange is kept as <case>.dig.txt. Needs root (tcpdump), dnsmasq (dnsmasq-base) and dig.
#   usage: test/tools/make-dns-fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=test/fixtures/captures/dns
mkdir -p "$OUT"
PORT=53
NS=umbra-fx-dns
WORK=$(mktemp -d)
DNSMASQ_PID=
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up

cleanup() {
  [ -n "$DNSMASQ_PID" ] && kill "$DNSMASQ_PID" 2>/dev/null || true
  rm -rf "$WORK"
  ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
  sleep 0.2
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT

# Names served from a hosts file: the end of a CNAME chain (dnsmasq's --cname
# target must be a name it knows locally) and a name with two A records.
cat > "$WORK/hosts" <<'EOF'
104.18.32.47 edge.cloudflare.example
2606:4700:4400::6812:202f edge.cloudflare.example
142.250.0.1 gemini.google.com
142.250.0.2 gemini.google.com
EOF

# HTTPS (type 65) RDATA, RFC 9460 wire format:
#  claude.ai:      1 . alpn="h3,h2" ipv4hint=10.0.0.7 ipv6hint=fd00::7
#  api.openai.com: 1 svc.openai.example. alpn="h2" port=8443 ipv6hint=fd00::8
HTTPS_CLAUDE=00010000010006026833026832000400040a00000700060010fd000000000000000000000000000007
HTTPS_OPENAI=000103737663066f70656e6169076578616d706c6500000100030268320003000220fb00060010fd000000000000000000000000000008

ip netns exec "$NS" dnsmasq --no-daemon --port="$PORT" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --addn-hosts="$WORK/hosts" --local-ttl=300 \
  --address=/chatgpt.com/10.0.0.5 --address=/chatgpt.com/fd00::5 \
  --cname=chat.openai.com,chat.openai.com.cdn.cloudflare.net \
  --cname=chat.openai.com.cdn.cloudflare.net,edge.cloudflare.example \
  --dns-rr=claude.ai,65,$HTTPS_CLAUDE \
  --dns-rr=api.openai.com,65,$HTTPS_OPENAI \
  --address=/#/ \
  --log-queries --log-facility=- 2> "$WORK/dnsmasq.log" &
DNSMASQ_PID=$!
sleep 0.5

# capture NAME DIG-ARGS...: one pcap per dig run.
capture() {
  local name=$1; shift
  local pcap="$OUT/$name.pcap"
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$pcap" "port $PORT" 2>/dev/null &
  local tpid=$!
  sleep 0.7
  # dig's own printout is kept beside the pcap: the tests compare answers with it.
  ip netns exec "$NS" dig @127.0.0.1 -p "$PORT" +tries=1 +time=2 "$@" | grep -v -e '^;; WHEN:' -e '^;; Query time:' > "$OUT/$name.dig.txt"
  sleep 0.3
  kill -INT "$tpid"; wait "$tpid" || true
  echo "$name: $(grep -c . "$OUT/$name.dig.txt") dig lines, $(tcpdump -r "$pcap" 2>/dev/null | wc -l) packets"
}

capture dig-udp-a chatgpt.com A
capture dig-udp-aaaa chatgpt.com AAAA
capture dig-udp-cname-chain CHAT.OpenAI.com A
capture dig-udp-multi-a gemini.google.com A
capture dig-udp-https claude.ai TYPE65
capture dig-udp-https-target api.openai.com TYPE65
capture dig-udp-nxdomain nothere.example A
capture dig-tcp-a +tcp chatgpt.com A
capture dig-tcp-cname-chain-aaaa +tcp chat.openai.com AAAA

echo "--- dnsmasq answered:"; grep -v -e started -e 'compile time' -e warning "$WORK/dnsmasq.log"
