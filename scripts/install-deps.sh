#!/usr/bin/env bash
# Installs the system packages lienthong's tests and demo need, when they are missing. As root it runs
# apt-get; otherwise it prints the exact command and fails.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
pgbin() { have pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; }
pgbin || need+=(postgresql)
[ -e /usr/lib/softhsm/libsofthsm2.so ] || need+=(softhsm2)
have pkcs11-tool || need+=(opensc)
# p11-kit's RPC server and client module: a second PKCS#11 module that signs in another process
have p11-kit || need+=(p11-kit)
ls /usr/lib/*/pkcs11/p11-kit-client.so >/dev/null 2>&1 || need+=(p11-kit-modules)
have pdfsig || need+=(poppler-utils)
have qpdf || need+=(qpdf)
have openssl || need+=(openssl)
have certutil || need+=(libnss3-tools)
# fonts-liberation2: the 1.07 fonts of fonts-liberation lack ơ, ư and precomposed Vietnamese letters
[ -e /usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf ] || need+=(fonts-liberation2)
have runuser || need+=(util-linux)
have gcc || need+=(gcc)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages; run: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
