package tsp_test

import (
	"crypto"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lienthong/lienthong/signing/cms/tsp"
)

// TestOpenSSLTSAToken reads a response from `openssl ts -reply` (a TSA we did not write) with
// accuracy, ordering, a TSA name and an ESS v2 certificate chain, and verifies its token.
func TestOpenSSLTSAToken(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	sh := `set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 30 -subj "/CN=TSA Root" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tsa.key -out tsa.csr -subj "/CN=OpenSSL TSA" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n' > tsa.ext
openssl x509 -req -in tsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out tsa.pem -days 30 -extfile tsa.ext 2>/dev/null
cat > tsa.cnf <<EOF2
[ tsa ]
default_tsa = t1
[ t1 ]
serial = $PWD/serial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1, millisecs:500, microsecs:100
ordering = yes
tsa_name = yes
ess_cert_id_chain = yes
ess_cert_id_alg = sha256
EOF2
echo 01 > serial
echo hello > data.txt
openssl ts -query -data data.txt -sha256 -cert -out q.tsq
openssl ts -reply -config tsa.cnf -queryfile q.tsq -signer tsa.pem -inkey tsa.key -chain ca.pem -out r.tsr 2>/dev/null
`
	cmd := exec.Command("sh", "-c", sh)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	resp, err := os.ReadFile(filepath.Join(dir, "r.tsr"))
	if err != nil {
		t.Fatal(err)
	}
	der, err := tsp.ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tsp.ParseToken(der)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("hello\n"))
	if err := tok.Verify(crypto.SHA256, sum[:]); err != nil {
		t.Fatal(err)
	}
	if tok.Accuracy.Milliseconds() != 1500 || tok.Policy.String() != "1.2.3.4.1" {
		t.Fatalf("accuracy %v policy %v", tok.Accuracy, tok.Policy)
	}
}
