#!/usr/bin/env bash
# Makes test/fixtures/captures/clients/*.pcap with real clients (dig, curl,
# openssl, python ssl, node tls, Chromium) talking to real servers (dnsmasq,
# openssl s_server, python http.server, nc) in two network namespaces joined by
# a veth pair. The capture runs on the client's veth, as an agent on the egress
# side of a gateway would see it. Every client is told a name; the table in
# clients/EXPECTED.tsv lists, per capture, the names each client was told: the
# independent expectation for the golden tests. Needs root.
#   usage: test/tools/make-client-fixtures.sh [NAME...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=test/fixtures/captures/clients
mkdir -p "$OUT"
CLI=umbra-fx-cli SRV=umbra-fx-srv
C4=10.99.0.1 S4=10.99.0.2 C6=fd99::1 S6=fd99::2
SELECTED=" ${*:-all} "
WORK=$(mktemp -d)

cleanup() {
  ip netns pids "$SRV" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns pids "$CLI" 2>/dev/null | xargs -r kill 2>/dev/null || true
  sleep 0.3
  ip netns del "$CLI" 2>/dev/null || true
  ip netns del "$SRV" 2>/dev/null || true
  rm -rf "/etc/netns/$CLI" "$WORK"
}
trap cleanup EXIT
cleanup 2>/dev/null || true
WORK=$(mktemp -d)

ip netns add "$CLI"; ip netns add "$SRV"
ip link add fxc type veth peer name fxs
ip link set fxc netns "$CLI"; ip link set fxs netns "$SRV"
for ns_if in "$CLI fxc $C4 $C6" "$SRV fxs $S4 $S6"; do
  set -- $ns_if
  ip -n "$1" link set lo up
  ip -n "$1" link set "$2" mtu 1500 up
  ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  ip -n "$1" addr add "$3/24" dev "$2"
  ip -n "$1" addr add "$4/64" dev "$2" nodad
done
# the client resolves through the server namespace's dnsmasq
mkdir -p "/etc/netns/$CLI"
echo "nameserver $S4" > "/etc/netns/$CLI/resolv.conf"

# --- servers ---------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
  -subj /CN=umbra-fixture -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
NAMES="chatgpt.com claude.ai api.openai.com api.anthropic.com gemini.google.com api.mistral.ai api.deepseek.com chat.deepseek.com copilot.microsoft.com www.perplexity.ai example.org"
DNSARGS=()
for n in $NAMES; do DNSARGS+=("--address=/$n/$S4" "--address=/$n/$S6"); done
# HTTPS record (type 65) for gemini.google.com: priority 1, target ".", alpn=h3,h2, ipv4hint=10.99.0.2
DNSARGS+=("--dns-rr=gemini.google.com,65,00010000010006026833026832000400040a630002")
# a CNAME chain: chat.mistral.ai -> api.mistral.ai
DNSARGS+=("--cname=chat.mistral.ai,api.mistral.ai")
ip netns exec "$SRV" dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces \
  --listen-address="$S4" --listen-address="$S6" --port=53 --address=/#/ "${DNSARGS[@]}" \
  --log-facility=- >"$WORK/dnsmasq.log" 2>&1 &
ip netns exec "$SRV" openssl s_server -quiet -accept 443 -naccept 1000 -cert "$WORK/cert.pem" -key "$WORK/key.pem" \
  -alpn h2,http/1.1 -www >/dev/null 2>&1 &
ip netns exec "$SRV" openssl s_server -quiet -accept '[::]:443' -naccept 1000 -cert "$WORK/cert.pem" -key "$WORK/key.pem" \
  -alpn h2,http/1.1 -www >/dev/null 2>&1 &
(cd "$WORK" && exec ip netns exec "$SRV" python3 -m http.server 80 --bind :: >/dev/null 2>&1) &
ip netns exec "$SRV" nc -lk "$S4" 3128 >/dev/null 2>&1 &
sleep 1.5

# --- one capture per client --------------------------------------------------
EXPECTED="$OUT/EXPECTED.tsv"
[ -f "$EXPECTED" ] || printf 'capture\tclient and what it was told\tnames\n' > "$EXPECTED"
record() { # capture description names...
  local f=$1 d=$2; shift 2
  grep -v "^$f	" "$EXPECTED" > "$WORK/exp" || true
  { cat "$WORK/exp"; printf '%s\t%s\t%s\n' "$f" "$d" "$*"; } | (read -r h; echo "$h"; sort) > "$EXPECTED"
}
capture() { # NAME COMMAND...
  local name=$1; shift
  ip netns exec "$CLI" tcpdump -i fxc -U -s 0 -w "$OUT/$name.pcap" 'not (icmp6 and ip6[40] >= 133 and ip6[40] <= 136)' >/dev/null 2>&1 &
  local tpid=$!
  sleep 0.7
  "$@" || true
  sleep 0.7
  kill "$tpid"; wait "$tpid" 2>/dev/null || true
  echo "made $OUT/$name.pcap ($(tcpdump -r "$OUT/$name.pcap" 2>/dev/null | wc -l) packets)"
}
in_cli() { ip netns exec "$CLI" "$@"; }
sel() { [[ "$SELECTED" == " all " ]] || [[ "$SELECTED" == *" $1 "* ]]; }

if sel dig-udp; then
  capture dig-udp ip netns exec "$CLI" bash -c "
    dig @$S4 chatgpt.com A +short; dig @$S4 claude.ai AAAA +short
    dig @$S4 gemini.google.com HTTPS +short; dig @$S4 chat.mistral.ai A +short; dig @$S4 example.org A +short"
  record dig-udp "dig over UDP: chatgpt.com A, claude.ai AAAA, gemini.google.com HTTPS, chat.mistral.ai A (CNAME to api.mistral.ai), example.org A" chatgpt.com claude.ai gemini.google.com chat.mistral.ai example.org
fi
if sel dig-tcp; then
  capture dig-tcp ip netns exec "$CLI" bash -c "dig +tcp @$S4 api.openai.com A +short; dig +tcp @$S4 api.anthropic.com AAAA +short"
  record dig-tcp "dig +tcp: api.openai.com A, api.anthropic.com AAAA" api.openai.com api.anthropic.com
fi
if sel curl-http1-ipv4; then
  capture curl-http1-ipv4 ip netns exec "$CLI" bash -c "curl -s -4 --http1.1 -o /dev/null --max-time 3 http://api.openai.com/; curl -s -4 --http1.1 -k -o /dev/null --max-time 3 https://chatgpt.com/"
  record curl-http1-ipv4 "curl -4 --http1.1: http://api.openai.com/ (Host), https://chatgpt.com/ (SNI, ALPN http/1.1)" api.openai.com chatgpt.com
fi
if sel curl-h2-ipv6; then
  capture curl-h2-ipv6 in_cli curl -s -6 --http2 -k -o /dev/null --max-time 3 https://claude.ai/
  record curl-h2-ipv6 "curl -6 --http2: https://claude.ai/ (DNS AAAA over IPv4 resolver, SNI, ALPN h2,http/1.1)" claude.ai
fi
if sel curl-connect-proxy; then
  capture curl-connect-proxy in_cli curl -s -k -o /dev/null --max-time 2 -x "http://$S4:3128" https://api.anthropic.com/
  record curl-connect-proxy "curl -x http://10.99.0.2:3128 https://api.anthropic.com/ (CONNECT api.anthropic.com:443)" api.anthropic.com
fi
if sel openssl-tls12; then
  capture openssl-tls12 bash -c "echo Q | ip netns exec $CLI timeout 3 openssl s_client -tls1_2 -connect $S4:443 -servername api.anthropic.com -alpn h2 >/dev/null 2>&1"
  record openssl-tls12 "openssl s_client -tls1_2 -servername api.anthropic.com -alpn h2" api.anthropic.com
fi
if sel openssl-tls13; then
  capture openssl-tls13 bash -c "echo Q | ip netns exec $CLI timeout 3 openssl s_client -tls1_3 -connect $S4:443 -servername gemini.google.com >/dev/null 2>&1"
  record openssl-tls13 "openssl s_client -tls1_3 -servername gemini.google.com" gemini.google.com
fi
if sel python-ssl; then
  capture python-ssl ip netns exec "$CLI" /usr/bin/python3 -c "
import socket, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(['http/1.1'])
with socket.create_connection(('$S4', 443), timeout=3) as s:
    with ctx.wrap_socket(s, server_hostname='api.mistral.ai') as t: pass"
  record python-ssl "python3 ssl, server_hostname=api.mistral.ai, ALPN http/1.1" api.mistral.ai
fi
if sel node-tls; then
  capture node-tls in_cli node -e "
const tls = require('tls');
const s = tls.connect({ host: '$S6', port: 443, servername: 'api.deepseek.com', rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => s.end());
s.on('error', () => {}); setTimeout(() => process.exit(0), 2000).unref();"
  record node-tls "node tls.connect to [fd99::2]:443, servername api.deepseek.com, ALPN h2" api.deepseek.com
fi
if sel ip-literal; then
  capture ip-literal bash -c "ip netns exec $CLI dig @$S4 copilot.microsoft.com A +short; ip netns exec $CLI curl -s -k -o /dev/null --max-time 3 https://$S4/"
  record ip-literal "dig copilot.microsoft.com, then curl https://10.99.0.2/ (no SNI: an IP literal)" copilot.microsoft.com
fi
if sel chromium-tls; then
  PROFILE=$(mktemp -d)
  capture chromium-tls in_cli timeout 20 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-features=OptimizationHints,MediaRouter \
    --user-data-dir="$PROFILE" --ignore-certificate-errors --dump-dom https://chat.deepseek.com/
  rm -rf "$PROFILE"
  record chromium-tls "headless Chromium https://chat.deepseek.com/ (system resolver, TLS over TCP, ClientHello over two segments)" chat.deepseek.com
fi
echo "dnsmasq log:"; cat "$WORK/dnsmasq.log" | tail -5
