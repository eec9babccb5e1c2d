#!/usr/bin/env bash
# Installs everything fakepeer needs on a fresh Debian-like machine, idempotently.
#   scripts/setup.sh          the package and its runtime dependencies
#   scripts/setup.sh --test   also the test extra and the real peers the tests talk to
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

# Real peers from Debian's packages: openssl (s_client/verify), sipsak (SIP over TLS),
# kamailio with its TLS module (an SBC-like peer and the benchmark reference); podman with
# runc, slirp4netns, uidmap and debootstrap build and run the real image (tests/container);
# chromium renders the status page and the rehearsal report headless.
debs=(openssl ca-certificates)
[ $want_test = 1 ] && debs+=(sipsak kamailio kamailio-tls-modules procps
                             podman runc slirp4netns uidmap debootstrap chromium)

missing=()
for d in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q "install ok installed" || missing+=("$d")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # kamailio's package starts a system service on install; fakepeer's tests start their own.
  $sudo_cmd systemctl disable --now kamailio >/dev/null 2>&1 || true
  pkill -x kamailio >/dev/null 2>&1 || true
fi

extra=""
[ $want_test = 1 ] && extra="[test]"
python3 -m pip install --quiet --disable-pip-version-check -e ".${extra}"
