#!/usr/bin/env bash
# Measures `lienthong token bench --workers 2` with an RSA-2048 SoftHSM key against
# `openssl speed -multi 2 rsa2048` in the same run, alternating ROUNDS times so both see the same load.
# Usage: hsm/bench_softhsm.sh [ROUNDS] [SECONDS]   (from the repository root; needs softhsm2, openssl, gcc)
# The toolchain make uses (go.mod's toolchain line, see the Makefile); a GOTOOLCHAIN in the environment wins.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
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
# Two views, each measured in the same round for all parties:
#  wall: signatures per wall-clock second with 2 workers (openssl speed -multi 2; depends on the load);
#  cpu:  signatures per user-CPU second x 2 (what two idle cores would do; steady on a busy machine).
#        openssl: one process, count / user seconds it prints; lienthong: token bench's
#        cpu_normalised_signatures_per_second; bare: the benchmark's sig/cpu-s x 2.
printf '%5s %10s %10s %8s | %10s %10s %10s %8s %8s | %s\n' round ossl_wall lt_wall lt/ossl ossl_cpu bare_cpu lt_cpu lt/ossl lt/bare load1
for r in $(seq 1 "$ROUNDS"); do
  ossl_wall=$(openssl speed -multi 2 -seconds "$SECS" rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $(NF-1)}')
  ossl_cpu=$(openssl speed -seconds "$SECS" rsa2048 2>&1 | awk '/private RSA.s in/ {c=$(NF-6); t=$NF; sub("s","",t); printf "%.1f", 2*c/t}')
  bare_cpu=$("$WORK/hsm.test" -test.run '^$' -test.bench 'BareParallel/rsa2048' -test.benchtime "${SECS}s" -test.cpu 2 | awk '/sig\/cpu-s/ {for (i=1;i<=NF;i++) if ($i=="sig/cpu-s") printf "%.1f", 2*$(i-1)}')
  lt_json=$("$WORK/lienthong" token bench --key "$KEY" --workers 2 --seconds "$SECS" --json)
  lt_wall=$(sed -E 's/.*"signatures_per_second":([0-9.]+).*/\1/' <<<"$lt_json")
  lt_cpu=$(sed -E 's/.*"cpu_normalised_signatures_per_second":([0-9.]+).*/\1/' <<<"$lt_json")
  load=$(cut -d' ' -f1 /proc/loadavg)
  awk -v r="$r" -v ow="$ossl_wall" -v lw="$lt_wall" -v oc="$ossl_cpu" -v bc="$bare_cpu" -v lc="$lt_cpu" -v ld="$load" \
    'BEGIN {printf "%5d %10.1f %10.1f %7.1f%% | %10.1f %10.1f %10.1f %7.1f%% %7.1f%% | %s\n", r, ow, lw, 100*lw/ow, oc, bc, lc, 100*lc/oc, 100*lc/bc, ld}'
done
