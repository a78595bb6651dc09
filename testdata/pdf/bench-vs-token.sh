#!/bin/sh
# Runs `lienthong pdf bench` (PAdES signatures of a small PDF against the token's own signing rate,
# alternating in one process) on a private SoftHSM token: one session, as a leader's USB token is
# used, and four sessions, as an organisation's HSM key is. Prints Markdown table rows for
# docs/bench-signing.md.
#
#   go build -o bin/lienthong ./cmd/lienthong && testdata/pdf/bench-vs-token.sh [RUNS] [SECONDS]
#
# Needs openssl, softhsm2 (softhsm2-util) and opensc (pkcs11-tool). On a real token, run the command
# itself: lienthong pdf bench --key 'pkcs11:...' --sessions 1 --seconds 60
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
set -eu
RUNS=${1:-3}
SECONDS_EACH=${2:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/testdata/pdf/bench-pki.sh"

echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ), $SECONDS_EACH s per run"
echo
echo "| run | sessions | workers | token sig/s | PDF sig/s | pdf/token | token CPU µs/sig | PDF CPU µs/sig |"
echo "|---|---|---|---|---|---|---|---|"
r=1
while [ "$r" -le "$RUNS" ]; do
  for s in 1 4; do
    "$BIN" pdf bench --key "$URI" --sessions "$s" --seconds "$SECONDS_EACH" --json |
      python3 -c 'import json, sys
r = json.load(sys.stdin)
print("| %s | %d | %d | %.0f | %.0f | %.3f | %.0f | %.0f |" % (sys.argv[1], r["sessions"], r["workers"],
  r["token_signatures_per_second"], r["pdf_signatures_per_second"], r["ratio"],
  r["token_cpu_us_per_signature"], r["pdf_cpu_us_per_signature"]))' "$r"
  done
  r=$((r + 1))
done
echo
echo "load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
