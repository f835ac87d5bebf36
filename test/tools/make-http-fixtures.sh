#!/usr/bin/env bash
# Makes test/fixtures/captures/http/curl-*.pcap: real curl requests to a local
# `python3 -m http.server` (IPv4 and IPv6 loopback) and through a local forward
# proxy (test/tools/connect-proxy.mjs: CONNECT tunnels to the local server,
# absolute-form requests answered by the proxy; it never reaches the names
# curl asks for), captured with tcpdump on `lo`, filtered on the fixture
# ports. The names and methods curl is told below are the independent
# expectation of test/agent/decode/http.test.ts; keep the two in step.
# Needs root (tcpdump), curl, python3, node.
#   usage: test/tools/make-http-fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=test/fixtures/captures/http
mkdir -p "$OUT"
WEB=${HTTP_FIXTURE_PORT:-28080}     # python http.server, 127.0.0.1
WEB6=$((WEB + 2))                   # python http.server, ::1
PROXY=$((WEB + 1))                  # connect-proxy.mjs, 127.0.0.1
WORK=$(mktemp -d)
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/www/v1" && echo hello > "$WORK/www/index.html" && echo '{}' > "$WORK/www/v1/models"
(cd "$WORK/www" && exec python3 -m http.server --bind 127.0.0.1 "$WEB") > "$WORK/web.log" 2>&1 & PIDS+=($!)
(cd "$WORK/www" && exec python3 -m http.server --bind ::1 "$WEB6") > "$WORK/web6.log" 2>&1 & PIDS+=($!)
node test/tools/connect-proxy.mjs "$PROXY" "$WEB" > "$WORK/proxy.log" 2>&1 & PIDS+=($!)
for hp in "127.0.0.1/$WEB" "::1/$WEB6" "127.0.0.1/$PROXY"; do
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/$hp") 2>/dev/null && break; sleep 0.1; done
done

# capture NAME CURL-ARGS...: one pcap per curl run (curl may fail: the capture is what matters).
capture() {
  local name=$1; shift
  local pcap="$OUT/$name.pcap"
  tcpdump -i lo -U -s 0 -w "$pcap" "tcp port $WEB or tcp port $WEB6 or tcp port $PROXY" 2>/dev/null &
  local tpid=$!
  sleep 0.7
  local rc=0
  curl -sS -o /dev/null --max-time 5 --noproxy '' "$@" 2> "$WORK/$name.err" || rc=$?
  sleep 0.3
  kill -INT "$tpid"; wait "$tpid" || true
  echo "$name: curl exit $rc, $(tcpdump -r "$pcap" 2>/dev/null | wc -l) packets"
}

capture curl-http11-get --http1.1 --resolve "chatgpt.com:$WEB:127.0.0.1" "http://chatgpt.com:$WEB/"
capture curl-http10-get --http1.0 --resolve "Claude.AI:$WEB:127.0.0.1" "http://Claude.AI:$WEB/index.html"
capture curl-http11-head-ipv6 --http1.1 -6 -g -I "http://[::1]:$WEB6/"
capture curl-http11-post -X POST --http1.1 --resolve "api.openai.com:$WEB:127.0.0.1" -H 'Content-Type: application/json' -d '{"model":"x"}' "http://api.openai.com:$WEB/v1/chat/completions"
capture curl-proxy-connect-https -p -x "http://127.0.0.1:$PROXY" -k "https://api.openai.com/v1/models"
capture curl-proxy-connect-http -p -x "http://127.0.0.1:$PROXY" "http://api.anthropic.com/v1/models"
capture curl-proxy-connect-ipv6 -p -x "http://127.0.0.1:$PROXY" -g "http://[2001:db8::1]:8080/"
capture curl-proxy-absolute -x "http://127.0.0.1:$PROXY" "http://gemini.google.com/app"

echo "--- proxy saw:"; cat "$WORK/proxy.log"
