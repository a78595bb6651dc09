# Sourced by the signing benchmarks after they set $ROOT: $BIN (the lienthong binary), a work folder
# $W (the current folder from here on, removed on exit), q (run quietly, stop on failure), a test PKI
# (P-256 root ca.pem, RSA-2048 signer rsa.key/rsa.pem) and the same key and certificate on a private
# SoftHSM token ($MODULE), named by $URI.
BIN=${LIENTHONG:-$ROOT/bin/lienthong}
MODULE=${LIENTHONG_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
q() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; }
# A test PKI: P-256 root, RSA-2048 signer.
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 30 \
  -subj "/CN=Bench Root CA/O=Lienthong" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' > leaf.ext
q openssl req -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.csr -subj "/CN=Bench Signer/O=Lienthong"
q openssl x509 -req -in rsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out rsa.pem -days 30 -extfile leaf.ext

# The same key on a private SoftHSM token.
export SOFTHSM2_CONF="$W/softhsm2.conf"
mkdir tokens && echo "directories.tokendir = $W/tokens" > "$SOFTHSM2_CONF"
q softhsm2-util --init-token --free --label bench --pin 1234 --so-pin 5678
q openssl pkcs8 -topk8 -nocrypt -in rsa.key -out rsa.p8
q softhsm2-util --import rsa.p8 --token bench --label signer --id 01 --pin 1234
q openssl x509 -in rsa.pem -outform DER -out rsa.der
q pkcs11-tool --module "$MODULE" --token-label bench --login --pin 1234 --write-object rsa.der --type cert --id 01 --label signer
printf '1234\n' > pin && chmod 600 pin
URI="pkcs11:token=bench;object=signer;id=%01?module-path=$MODULE&pin-source=file:$W/pin"

