#!/usr/bin/env bash
# Installs what Umbra needs on Debian/Ubuntu: system packages, then the npm
# packages (npm ci), then builds. Safe to run again.
#   UMBRA_SETUP_SKIP_APT=1   skip the apt step (packages already there)
set -euo pipefail
cd "$(dirname "$0")/.."

# Runtime: libpcap (capture). Tests: tshark (cross-check), dig, dnsmasq,
# tcpdump, iproute2/ethtool (network namespaces), nftables, openssl, curl.
APT_PACKAGES=(
  libpcap-dev build-essential python3
  tshark dnsutils dnsmasq-base tcpdump iproute2 ethtool nftables openssl curl
  systemd strace libcap2-bin
)

if [ "${UMBRA_SETUP_SKIP_APT:-0}" != 1 ] && command -v apt-get >/dev/null; then
  SUDO=()
  if [ "$(id -u)" != 0 ]; then SUDO=(sudo); fi
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    "${SUDO[@]}" apt-get update -qq
    # tshark asks whether non-root users may capture; answer no without a prompt
    echo 'wireshark-common wireshark-common/install-setuid boolean false' | "${SUDO[@]}" debconf-set-selections
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

npm ci --no-audit --no-fund
npm run build
