#!/usr/bin/env bash
# Measures `lienthong token bench --workers 2` with an RSA-2048 SoftHSM key against
# `openssl speed -multi 2 rsa2048` in the same run, alternating ROUNDS times so both see the same load.
# Usage: hsm/bench_softhsm.sh [ROUNDS] [SECONDS]   (from the repository root; needs softhsm2, openssl, gcc)
set -euo pipefail
ROUNDS=${1:-3}
SECS=${2:-5}
MOD=${LIENTHONG_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/tokens"
cat > "$WORK/softhsm2.conf" <<CONF
directories.tokendir = $WORK/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF="$WORK/softhsm2.conf"
CGO_ENABLED=1 go build -o "$WORK/lienthong" ./cmd/lienthong
PIN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
(umask 077; printf '%s\n' "$PIN" > "$WORK/pin")
softhsm2-util --init-token --free --label bench --so-pin "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" --pin "$PIN" >/dev/null
KEY="pkcs11:token=bench;object=rsa2048;id=%01?module-path=$MOD&pin-source=file:$WORK/pin"
"$WORK/lienthong" token keygen --key "$KEY" --type rsa2048 >/dev/null 2>&1
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)  cores: $(nproc)"
echo "$(openssl version)  softhsm2: $(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null || echo '?')"
# SoftHSM's own ceiling: bare C_SignInit+C_Sign loops, one session per goroutine, 2 goroutines, no pool.
CGO_ENABLED=1 go test -c -o "$WORK/hsm.test" ./hsm
echo "round  openssl_sign_per_s  softhsm_bare_sign_per_s  lienthong_sign_per_s  lienthong/openssl  lienthong/bare  load1"
for r in $(seq 1 "$ROUNDS"); do
  ossl=$(openssl speed -multi 2 -seconds "$SECS" rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $(NF-1)}')
  bare=$("$WORK/hsm.test" -test.run '^$' -test.bench 'BareParallel/rsa2048' -test.benchtime "${SECS}s" -test.cpu 2 | awk '/ns\/op/ {printf "%.1f", 1e9/$3}')
  lt=$("$WORK/lienthong" token bench --key "$KEY" --workers 2 --seconds "$SECS" --json | sed -E 's/.*"signatures_per_second":([0-9.]+).*/\1/')
  load=$(cut -d' ' -f1 /proc/loadavg)
  awk -v r="$r" -v o="$ossl" -v b="$bare" -v l="$lt" -v ld="$load" 'BEGIN {printf "%5d  %18.1f  %23.1f  %20.1f  %16.1f%%  %13.1f%%  %s\n", r, o, b, l, 100*l/o, 100*l/b, ld}'
done
