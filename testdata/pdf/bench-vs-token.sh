#!/bin/sh
# Runs `lienthong pdf bench` (PAdES signatures of a small PDF against the token's own signing rate,
# alternating in one process) on a private SoftHSM token: one session, as a leader's USB token is
# used, and four sessions, as an organisation's HSM key is. Prints Markdown table rows for
# docs/bench-signing.md.
#
#   go build -o bin/lienthong ./cmd/lienthong && testdata/pdf/bench-vs-token.sh [RUNS] [SECONDS] [MODE]
#
# MODE in-process (default): SoftHSM loaded into lienthong, its RSA on the same cores as the PDF work.
# MODE own-core: the token served by `p11-kit server` from its own process pinned to the last CPU,
# lienthong pinned to the others and reaching it through p11-kit's client module, as a USB token or an
# HSM signs on its own processor.
#
# Needs openssl, softhsm2 (softhsm2-util), opensc (pkcs11-tool), and for own-core p11-kit,
# p11-kit-modules and taskset (util-linux). On a real token, run the command itself:
#   lienthong pdf bench --key 'pkcs11:...' --sessions 1 --seconds 60
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
set -eu
RUNS=${1:-3}
SECONDS_EACH=${2:-5}
MODE=${3:-in-process}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/testdata/pdf/bench-pki.sh"

PINNED=""
case "$MODE" in
in-process) ;;
own-core)
  last=$(($(nproc) - 1))
  [ "$last" -ge 1 ] || { echo "own-core needs at least 2 CPUs" >&2; exit 2; }
  CLIENT=$(ls /usr/lib/*/pkcs11/p11-kit-client.so | head -n 1)
  eval "$(taskset -c "$last" p11-kit server --provider "$MODULE" --name "$W/p11.sock" --sh "pkcs11:token=bench")"
  trap 'kill "$P11_KIT_SERVER_PID" 2>/dev/null; rm -rf "$W"' EXIT
  URI="pkcs11:token=bench;object=signer;id=%01?module-path=$CLIENT&pin-source=file:$W/pin"
  PINNED="taskset -c 0-$((last - 1))"
  ;;
*) echo "MODE is in-process or own-core" >&2; exit 2 ;;
esac

echo "$MODE, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ), $SECONDS_EACH s per run"
echo
echo "| run | sessions | token sig/s by raw callers | PDF workers | PDF sig/s | pdf/token (best raw) | token CPU µs/sig | PDF CPU µs/sig |"
echo "|---|---|---|---|---|---|---|---|"
r=1
while [ "$r" -le "$RUNS" ]; do
  for s in 1 4; do
    $PINNED "$BIN" pdf bench --key "$URI" --sessions "$s" --seconds "$SECONDS_EACH" --json |
      python3 -c 'import json, sys
r = json.load(sys.stdin)
rates = ", ".join("%.0f (%d)" % (t["signatures_per_second"], t["callers"]) for t in r["token_rates"])
print("| %s | %d | %s | %d | %.0f | %.3f | %.0f | %.0f |" % (sys.argv[1], r["sessions"], rates, r["workers"],
  r["pdf_signatures_per_second"], r["ratio"],
  r["token_cpu_us_per_signature"], r["pdf_cpu_us_per_signature"]))' "$r"
  done
  r=$((r + 1))
done
echo
echo "load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
