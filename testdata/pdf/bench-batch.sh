#!/bin/sh
# Measures `lienthong pdf sign-batch` on small PDFs against the token's own signing rate, in one run:
# rounds alternate `lienthong token bench --workers 1` (one caller signing back to back on one session,
# the token's best rate) and a batch of N copies of testdata/pdf/classic.pdf signed with one session
# (as a USB token is used), the same SoftHSM key. The batch includes reading, writing and fsyncing
# every file. Prints Markdown table rows for docs/bench-signing.md and checks outputs with pdfsig.
#
#   go build -o bin/lienthong ./cmd/lienthong && testdata/pdf/bench-batch.sh [N] [ROUNDS] [WORKERS]
#
# Needs openssl, softhsm2 (softhsm2-util), opensc (pkcs11-tool) and poppler-utils (pdfsig).
# The toolchain make uses (go.mod's toolchain line, see the Makefile); a GOTOOLCHAIN in the environment wins.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
set -eu
N=${1:-500}
ROUNDS=${2:-3}
WORKERS=${3:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/testdata/pdf/bench-pki.sh"

mkdir in
i=0
while [ "$i" -lt "$N" ]; do cp "$ROOT/testdata/pdf/classic.pdf" "in/$(printf '%05d' "$i").pdf"; i=$((i + 1)); done
num() { sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }
echo "$N documents of $(stat -c %s in/00000.pdf) bytes, $WORKERS workers, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| round | token sig/s (1 caller) | batch documents/s | batch / token |"
echo "|---|---|---|---|"
r=1
while [ "$r" -le "$ROUNDS" ]; do
  tok=$("$BIN" token bench --key "$URI" --workers 1 --seconds 3 --json | num signatures_per_second)
  rm -rf out
  bat=$("$BIN" pdf sign-batch --key "$URI" --sessions 1 --workers "$WORKERS" --out-dir out --json in/*.pdf | num documents_per_second)
  printf '| %s | %.0f | %.0f | %.3f |\n' "$r" "$tok" "$bat" "$(echo "$bat / $tok" | bc -l)"
  r=$((r + 1))
done
pdfsig out/00000.pdf | grep -q "Signature is Valid" || { echo "pdfsig does not find out/00000.pdf valid" >&2; exit 1; }
