#!/bin/sh
# Measures signing a large incompressible PDF against its peers, in one run on this machine:
# sha256sum over the same file, `lienthong pdf sign` with a file key and with a SoftHSM key, and
# poppler's `pdfsig -add-signature` (NSS, RSA). Prints Markdown table rows (wall seconds, max RSS)
# (wall and CPU seconds, max RSS) for docs/bench-signing.md, three runs each, and checks every output with pdfsig.
#
#   go build -o bin/lienthong ./cmd/lienthong && testdata/pdf/bench-signing.sh [MIB]
#
# Needs python3, openssl, softhsm2 (softhsm2-util), opensc (pkcs11-tool), poppler-utils (pdfsig),
# libnss3-tools (certutil, pk12util) and GNU time (/usr/bin/time).
# The toolchain make uses (go.mod's toolchain line, see the Makefile); a GOTOOLCHAIN in the environment wins.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
set -eu
MIB=${1:-40}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/testdata/pdf/bench-pki.sh" # in $W now: rsa.key/rsa.pem signed by ca.pem; the same key on SoftHSM as $URI

python3 "$ROOT/testdata/pdf/raw.py" large large.pdf "$MIB"

# The same key in an NSS database for pdfsig.
q openssl pkcs12 -export -inkey rsa.key -in rsa.pem -certfile ca.pem -name signer -out rsa.p12 -passout pass:p
mkdir nss && q certutil -N -d sql:nss --empty-password && q pk12util -i rsa.p12 -d sql:nss -W p

cat large.pdf >/dev/null # warm the page cache for every contender alike
SIZE=$(stat -c %s large.pdf)
echo "file: $SIZE bytes ($MIB MiB), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| run | command | wall s | CPU s (user+sys) | max RSS MiB |"
echo "|---|---|---|---|---|"
measure() {
  label=$1; shift
  /usr/bin/time -v "$@" >/dev/null 2>time.txt || { cat time.txt >&2; exit 1; }
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; printf "%.2f", s}' time.txt)
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' time.txt)
  cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {printf "%.2f", s}' time.txt)
  echo "| $run | $label | $wall | $cpu | $rss |"
}
for run in 1 2 3; do
  rm -f s1.pdf s2.pdf s3.pdf
  measure "sha256sum" sha256sum large.pdf
  measure "lienthong pdf sign (file key)" "$BIN" pdf sign --key "file:rsa.key" --cert rsa.pem --chain ca.pem --in large.pdf --out s1.pdf
  measure "lienthong pdf sign (SoftHSM key)" "$BIN" pdf sign --key "$URI" --chain ca.pem --in large.pdf --out s2.pdf
  measure "pdfsig -add-signature (NSS)" pdfsig -nssdir sql:nss -add-signature -nick signer large.pdf s3.pdf
done
echo
for f in s1.pdf s2.pdf s3.pdf; do
  out=$(pdfsig "$f" 2>&1 || true)
  v=$(printf '%s\n' "$out" | grep -c "Signature Validation: Signature is Valid." || true)
  t=$(printf '%s\n' "$out" | grep -c -- "- Total document signed" || true)
  echo "check $f: valid=$v total=$t"
done
