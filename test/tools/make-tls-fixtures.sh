#!/usr/bin/env bash
# Makes test/fixtures/captures/tls/<client>-<version>.pcap: real TLS clients
# (openssl s_client, Node tls, Python ssl, curl, headless Chromium) each told a
# server name and ALPN list, talking to a local `openssl s_server` on port 8443
# (not 443: the decoder must recognise TLS by content). Everything runs on the
# loopback of a private network namespace, so the lo MTU can be lowered there
# to make a small ClientHello span several TCP segments. tls/EXPECTED.tsv lists
# what each client was told: the independent expectation for the tests.
# Needs root.  usage: test/tools/make-tls-fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=test/fixtures/captures/tls
NS=umbra-tlsfx
mkdir -p "$OUT"
WORK=$(mktemp -d)
cleanup() {
  ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
  sleep 0.3
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns ethtool -K lo tso off gso off gro off tx off rx off >/dev/null 2>&1 || true

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
  -subj /CN=umbra-tls-fixture -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
in_ns openssl s_server -quiet -accept 8443 -naccept 1000 -cert "$WORK/cert.pem" -key "$WORK/key.pem" \
  -alpn h2,http/1.1 -www >/dev/null 2>&1 &
sleep 1

printf 'capture\tclient and what it was told\tsni\talpn\n' > "$OUT/EXPECTED.tsv"
capture() { # NAME MTU SNI ALPN DESCRIPTION COMMAND...
  local name=$1 mtu=$2 sni=$3 alpn=$4 desc=$5; shift 5
  in_ns ip link set lo mtu "$mtu"
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$OUT/$name.pcap" 'tcp port 8443' >/dev/null 2>&1 &
  local tpid=$!
  sleep 0.7
  in_ns "$@" || true
  sleep 0.7
  kill "$tpid"; wait "$tpid" 2>/dev/null || true
  printf '%s\t%s\t%s\t%s\n' "$name" "$desc" "$sni" "$alpn" >> "$OUT/EXPECTED.tsv"
  echo "made $OUT/$name.pcap ($(tcpdump -r "$OUT/$name.pcap" 2>/dev/null | wc -l) packets)"
}

capture openssl-tls12 1500 chatgpt.com h2,http/1.1 "openssl s_client -tls1_2 -servername chatgpt.com -alpn h2,http/1.1" \
  bash -c 'echo Q | timeout 3 openssl s_client -tls1_2 -connect 127.0.0.1:8443 -servername chatgpt.com -alpn h2,http/1.1 >/dev/null 2>&1'
capture openssl-tls13 1500 claude.ai - "openssl s_client -tls1_3 -servername claude.ai" \
  bash -c 'echo Q | timeout 3 openssl s_client -tls1_3 -connect 127.0.0.1:8443 -servername claude.ai >/dev/null 2>&1'
capture openssl-tls13-nosni 1500 - - "openssl s_client -tls1_3 -noservername (IP-only client)" \
  bash -c 'echo Q | timeout 3 openssl s_client -tls1_3 -connect 127.0.0.1:8443 -noservername >/dev/null 2>&1'
capture openssl-tls13-split 300 api.mistral.ai h2 "openssl s_client -tls1_3 -servername api.mistral.ai -alpn h2, lo MTU 300: ClientHello over several TCP segments" \
  bash -c 'echo Q | timeout 3 openssl s_client -tls1_3 -connect 127.0.0.1:8443 -servername api.mistral.ai -alpn h2 >/dev/null 2>&1'
capture node-tls13 1500 api.openai.com h2,http/1.1 "node tls.connect servername api.openai.com, ALPNProtocols h2,http/1.1" \
  node -e "
const tls = require('tls');
const s = tls.connect({ host: '127.0.0.1', port: 8443, servername: 'api.openai.com', rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] }, () => s.end());
s.on('error', () => {}); setTimeout(() => process.exit(0), 2000).unref();"
capture python-ssl-tls13 1500 gemini.google.com http/1.1 "python3 ssl server_hostname=gemini.google.com, ALPN http/1.1" \
  /usr/bin/python3 -c "
import socket, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(['http/1.1'])
with socket.create_connection(('127.0.0.1', 8443), timeout=3) as s:
    with ctx.wrap_socket(s, server_hostname='gemini.google.com') as t: pass"
capture curl-tls13 1500 api.anthropic.com h2,http/1.1 "curl --resolve api.anthropic.com:8443:127.0.0.1 -k https://api.anthropic.com:8443/" \
  curl -s -k -o /dev/null --max-time 3 --resolve api.anthropic.com:8443:127.0.0.1 https://api.anthropic.com:8443/
capture curl-tls12 1500 copilot.microsoft.com http/1.1 "curl --tlsv1.2 --tls-max 1.2 --http1.1 --resolve copilot.microsoft.com:8443:127.0.0.1 -k" \
  curl -s -k -o /dev/null --max-time 3 --tlsv1.2 --tls-max 1.2 --http1.1 --resolve copilot.microsoft.com:8443:127.0.0.1 https://copilot.microsoft.com:8443/
PROFILE=$(mktemp -d)
capture chromium-tls13 1500 chat.deepseek.com h2,http/1.1 "headless Chromium https://chat.deepseek.com:8443/ (host-resolver-rules to 127.0.0.1; post-quantum key share: ClientHello over two segments)" \
  timeout 20 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-features=OptimizationHints,MediaRouter \
    --host-resolver-rules="MAP chat.deepseek.com 127.0.0.1" --user-data-dir="$PROFILE" --ignore-certificate-errors \
    --dump-dom https://chat.deepseek.com:8443/ 2>/dev/null
rm -rf "$PROFILE"
