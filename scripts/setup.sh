#!/usr/bin/env bash
# Installs fakepeer into a virtual environment of this checkout (.venv), idempotently, on
# a Debian-like machine, as root or as a normal user:
#   scripts/setup.sh          fakepeer and its runtime dependencies: .venv/bin/fakepeer
#   scripts/setup.sh --test   also the test extra and the real peers the tests talk to
#   scripts/setup.sh --bench  --test, and the compiler and TLS headers the benchmark's C
#                             load generator is built with (benchmarks/tlsload/)
#   PYTHON=python3.12 scripts/setup.sh   another interpreter (default: python3 on PATH)
#
# Never into the system interpreter: Debian 12 and Ubuntu 24.04 forbid that (PEP 668),
# and a package under root's home is out of a normal user's reach; every user runs it in
# their own checkout. sudo is used only for apt-get, and only when a package is missing.
# It never stops, disables or kills a service: Debian's kamailio package starts its own on
# install (it may be the SBC under test), and the tests start private Kamailio instances
# on free loopback ports beside it.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*" >&2; }
die() { say "$*"; exit 1; }

want_test=0
want_bench=0
case "${1:-}" in
  "") ;;
  --test) want_test=1 ;;
  --bench) want_test=1; want_bench=1 ;;
  *) die "unknown option '$1': scripts/setup.sh takes only --test or --bench" ;;
esac
[ $# -le 1 ] || die "too many arguments ($*): scripts/setup.sh takes only --test or --bench"

venv=.venv
python=${PYTHON:-python3}

# Real peers from Debian's packages: openssl (s_client/verify), sipsak (SIP over TLS),
# kamailio with its TLS module (an SBC-like peer and the benchmark reference); podman with
# runc, slirp4netns, uidmap and debootstrap build and run the real image (tests/container);
# chromium renders the status page and the rehearsal report headless; python3-venv lets
# the set-up test make a venv with Debian's own Python (tests/test_setup.py); tshark
# (with dumpcap) captures a rehearsal on loopback and decrypts it with fakepeer's key log.
# With --bench, gcc with libc6-dev, libssl-dev and libwolfssl-dev build the benchmark's C
# load generator (benchmarks/tlsload/, compiled on first use); no test needs them, so CI
# (--test) does not download a compiler.
debs=(openssl ca-certificates)
[ $want_test = 1 ] && debs+=(sipsak kamailio kamailio-tls-modules procps
                             podman runc slirp4netns uidmap debootstrap chromium tshark)
[ $want_bench = 1 ] && debs+=(gcc libc6-dev libssl-dev libwolfssl-dev)
[ $want_test = 1 ] && [ -x /usr/bin/python3 ] && debs+=(python3-venv)

venv_works() { "$venv/bin/python" -c 'import pip' >/dev/null 2>&1; }
new_enough() {
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' && return
  die "fakepeer needs Python 3.11 or newer; $(command -v "$python") is" \
      "$("$python" -c 'import platform; print(platform.python_version())'):" \
      "install a newer one and run PYTHON=python3.11 scripts/setup.sh"
}

# The interpreter that makes the venv (none is needed while the venv works). Debian's
# needs its venv package for that (it holds ensurepip); pyenv's or python.org's carry it.
if venv_works; then
  :
elif ! command -v "$python" >/dev/null; then
  [ "$python" = python3 ] || die "PYTHON=$python is not a command: name an installed Python 3.11+"
  debs+=(python3 python3-venv)
elif new_enough && ! "$python" -c 'import ensurepip' >/dev/null 2>&1; then
  real=$(readlink -f "$(command -v "$python")")
  if command -v dpkg-query >/dev/null && dpkg-query -S "$real" >/dev/null 2>&1; then
    if [ "$real" = "$(readlink -f /usr/bin/python3)" ]; then
      debs+=(python3-venv)
    else
      debs+=("python$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv")
    fi
  else
    die "$python ($real) cannot make a virtual environment (no ensurepip): use a Python" \
        "that can, e.g. PYTHON=/usr/bin/python3 scripts/setup.sh"
  fi
fi

missing=()
if command -v dpkg-query >/dev/null; then
  installed=" $(dpkg-query -W -f='${Package}=${db:Status-Status} ' "${debs[@]}" 2>/dev/null || true)"
  for d in "${debs[@]}"; do
    [[ $installed == *" $d=installed "* ]] || missing+=("$d")
  done
else
  say "no dpkg-query (not a Debian-like system): make sure ${debs[*]} are installed"
fi

if [ ${#missing[@]} -gt 0 ]; then
  fix="install them as root (apt-get install ${missing[*]}) and run scripts/setup.sh again"
  if [ "$(id -u)" = 0 ]; then
    # As root nobody is there to answer debconf; through sudo the user is, and sudo would
    # drop the variable anyway.
    apt=(env DEBIAN_FRONTEND=noninteractive apt-get)
  elif command -v sudo >/dev/null; then
    apt=(sudo apt-get)
  else
    die "missing Debian packages: ${missing[*]}; neither root nor sudo here: $fix"
  fi
  say "installing Debian packages: ${missing[*]}"
  { "${apt[@]}" update -qq \
      && "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } \
    || die "apt-get could not install ${missing[*]} (see above): $fix"
fi

# The venv. One that no longer runs (its Python was upgraded or removed) is made anew: it
# holds only what this script put there.
if [ -e "$venv" ] && ! venv_works; then
  say "$venv does not run any more (was its Python upgraded or removed?); making it anew"
  rm -rf "$venv"
fi
if [ ! -e "$venv" ]; then
  new_enough
  say "making the virtual environment $venv with $(command -v "$python")"
  "$python" -m venv "$venv" \
    || die "$python could not make $venv (see above); remove $venv and try another PYTHON="
fi

# The editable install, skipped when nothing it depends on changed since the last run: the
# project's metadata, this checkout's place and the extras. Code changes need no reinstall.
extras="run"
[ $want_test = 1 ] && extras="test"
stamp="$venv/.fakepeer-setup"
state="$(sha256sum pyproject.toml | cut -d' ' -f1) $PWD"
if [ -x "$venv/bin/fakepeer" ] && [ -f "$stamp" ] \
    && { grep -qxF "$state test" "$stamp" || grep -qxF "$state $extras" "$stamp"; }; then
  say "$venv is up to date"
else
  extra=""
  [ $want_test = 1 ] && extra="[test]"
  say "installing fakepeer$extra (editable) into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".$extra" \
    || die "pip could not install fakepeer into $venv (see above)"
  echo "$state $extras" > "$stamp"
fi
say "ready: $venv/bin/fakepeer (\`. $venv/bin/activate\` puts fakepeer on PATH)"
