#!/bin/sh
# Runs the attack corpus through lienthong, poppler's pdfsig and (when built) pdfcpu, and prints a
# Markdown table of which files each accepts. Usage, from the repository root:
#
#   testdata/attacks/compare.sh [OUTDIR]
#
# pdfcpu is optional: build it into a temporary GOBIN (never committed) and point PDFCPU at it:
#   GOBIN=/tmp/pdfcpubin go install github.com/pdfcpu/pdfcpu/cmd/pdfcpu@v0.15.0
#   PDFCPU=/tmp/pdfcpubin/pdfcpu testdata/attacks/compare.sh
#
# "accepts" means: lienthong exits 0; pdfsig prints "Signature is Valid." for every signature and
# "Certificate is Trusted." (the corpus root is trusted in a private NSS database; pdfsig's exit code
# is 0 whatever it finds, so its text is read); pdfcpu reports every signature valid.
# The toolchain make uses (go.mod's toolchain line, see the Makefile); a GOTOOLCHAIN in the environment wins.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
set -eu
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
go run ./testdata/attacks/gen -out "$OUT" >/dev/null
go build -o "$OUT/lienthong" ./cmd/lienthong
PDFCPU=${PDFCPU:-}

NSS="$OUT/nssdb"
rm -rf "$NSS" && mkdir -p "$NSS"
certutil -N -d "sql:$NSS" --empty-password
certutil -A -n "corpus root" -t "CT,C,C" -i "$OUT/roots.pem" -d "sql:$NSS"

if [ -n "$PDFCPU" ]; then
	export XDG_CONFIG_HOME="$OUT/pdfcpu-config"
	mkdir -p "$XDG_CONFIG_HOME"
	"$PDFCPU" certificates import "$OUT/roots.pem" >/dev/null 2>&1 || true
fi

yesno() { if [ "$1" = 1 ]; then echo "accepts"; else echo "rejects"; fi; }

echo "| case | expected | lienthong | pdfsig | pdfcpu |"
echo "|---|---|---|---|---|"
for f in "$OUT"/*.pdf; do
	name=$(basename "$f" .pdf)
	[ "$name" = big ] && continue
	case "$name" in genuine_*) expected=valid ;; *) expected=forged ;; esac

	ours=0
	"$OUT/lienthong" pdf verify --trust "$OUT/roots.pem" "$f" >/dev/null 2>&1 && ours=1

	out=$(pdfsig -nssdir "sql:$NSS" "$f" 2>&1 || true)
	nsig=$(printf '%s\n' "$out" | grep -c '^Signature #' || true)
	nvalid=$(printf '%s\n' "$out" | grep -c 'Signature Validation: Signature is Valid.' || true)
	ntrust=$(printf '%s\n' "$out" | grep -c 'Certificate Validation: Certificate is Trusted.' || true)
	popp=0
	if [ "$nsig" -gt 0 ] && [ "$nvalid" -eq "$nsig" ] && [ "$ntrust" -eq "$nsig" ]; then popp=1; fi

	cpu="n/a"
	if [ -n "$PDFCPU" ]; then
		# Per signature pdfcpu prints "Status: ..." then "Reason: ...". It never says "valid" without
		# revocation evidence, so "unknown" because of revocation alone means it found nothing wrong.
		cout=$("$PDFCPU" signatures validate -a -f "$f" 2>&1 || true)
		st=$(printf '%s\n' "$cout" | awk '/^ *Status: /{sub(/^ *Status: /,""); s=$0} /^ *Reason: /{if (s!="") {sub(/^ *Reason: /,""); print s " (" $0 ")"; s=""}}')
		if [ -z "$st" ]; then
			cpu="rejects ($(printf '%s' "$cout" | head -1 | cut -c1-60))"
		elif printf '%s\n' "$st" | grep -v -e 'signature is valid' -e 'revocation status is unknown' | grep -q .; then
			cpu="rejects: $(printf '%s\n' "$st" | grep -v -e 'signature is valid' -e 'revocation status is unknown' | head -1)"
		else
			cpu="accepts ($(printf '%s\n' "$st" | head -1))"
		fi
	fi
	total=""
	if [ "$popp" = 1 ] && printf '%s\n' "$out" | grep -q 'Not total document signed'; then total=" (says: not total document signed)"; fi
	echo "| $name | $expected | $(yesno $ours) | $(yesno $popp)$total | $cpu |"
done
