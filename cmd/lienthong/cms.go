package main

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/cms/tsp"
	"github.com/lienthong/lienthong/signing/verify"
)

func init() {
	register(command{name: "cms sign", summary: "detached CMS signature (.p7s) over any file (attachments)", run: runCMSSign})
	register(command{name: "cms verify", summary: "validate a detached CMS signature over a file", run: runCMSVerify})
}

const cmsSignUsage = `usage: lienthong cms sign --key URI --in FILE --out FILE.p7s [--cert CERT.pem] [--chain CHAIN.pem] [--tsa URL]

Writes a detached CMS SignedData (DER) over FILE with the signed attributes content-type,
message-digest and signing-certificate-v2 and the certificate chain embedded. FILE is hashed by
streaming; FILE.p7s is written whole (temporary file + rename) or not at all.

The key is a PKCS#11 URI whose certificate sits on the token with the same CKA_ID, or, for tests,
file:KEY.pem with --cert.

flags:
`

func runCMSSign(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("cms sign", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() { fmt.Fprint(e.Stderr, cmsSignUsage); fs.PrintDefaults() }
	var key, certPath, chainPath, in, out, tsaURL, hashName string
	var pss bool
	fs.StringVar(&key, "key", "", "PKCS#11 URI of the signing key, or file:KEY.pem (tests)")
	fs.StringVar(&certPath, "cert", "", "PEM signer certificate (first) and chain; required with file: keys")
	fs.StringVar(&chainPath, "chain", "", "PEM intermediate certificates to embed after the signer's")
	fs.StringVar(&in, "in", "", "file to sign")
	fs.StringVar(&out, "out", "", "detached signature to write (.p7s)")
	fs.StringVar(&tsaURL, "tsa", "", "RFC 3161 time-stamp authority URL (adds a signature timestamp)")
	fs.StringVar(&hashName, "hash", "sha256", "digest: sha256, sha384 or sha512")
	fs.BoolVar(&pss, "pss", false, "RSA keys: sign with RSASSA-PSS instead of PKCS#1 v1.5")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if key == "" || in == "" || out == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	hash, ok := map[string]crypto.Hash{"sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512}[hashName]
	if !ok {
		fmt.Fprintln(e.Stderr, "lienthong cms sign: --hash must be sha256, sha384 or sha512")
		return exitUsage
	}
	if abs1, _ := filepath.Abs(in); abs1 != "" {
		if abs2, _ := filepath.Abs(out); abs1 == abs2 {
			fmt.Fprintln(e.Stderr, "lienthong cms sign: --out must differ from --in")
			return exitUsage
		}
	}
	signer, chain, closeKey, err := loadSigningKey(ctx, key, certPath, chainPath)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong cms sign:", userMessage(err))
		return exitUsage
	}
	defer closeKey()
	f, err := os.Open(in)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong cms sign: cannot open the input:", err)
		return exitUsage
	}
	h := hash.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong cms sign: reading the input:", err)
		return exitUsage
	}
	req := cms.Request{Digest: h.Sum(nil), Hash: hash, Signer: signer, Chain: chain, PSS: pss}
	if tsaURL != "" {
		req.TSA = (&tsp.Client{URL: tsaURL}).Timestamp
	}
	der, err := cms.SignDetached(ctx, req)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong cms sign:", userMessage(err))
		return exitNo
	}
	if err := writeFileAtomic(out, der); err != nil {
		fmt.Fprintln(e.Stderr, "lienthong cms sign:", err)
		return exitNo
	}
	return exitOK
}

// writeFileAtomic writes data to a temporary file beside path and renames it into place.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

const cmsVerifyUsage = `usage: lienthong cms verify [--trust ROOTS.pem] [--json] [--lang vi|en] FILE FILE.p7s

Validates the detached CMS signature FILE.p7s over FILE: integrity, the signature, the
signing-certificate attribute, the chain to the trust anchors, revocation and any signature
timestamp. Exit status: 0 valid; 1 invalid or indeterminate; 2 usage error or unreadable input.

flags:
`

func runCMSVerify(ctx context.Context, e env, args []string) int {
	f, pos, code, ok := verifyCommandArgs(e, "cms verify", cmsVerifyUsage, 2, args)
	if !ok {
		return code
	}
	o, err := f.options(pos[0])
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong cms verify:", err)
		return exitUsage
	}
	sig, err := os.ReadFile(pos[1])
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong cms verify: cannot read the signature:", err)
		return exitUsage
	}
	if len(sig) > 16<<20 {
		fmt.Fprintln(e.Stderr, "lienthong cms verify: the signature file is too large to be a CMS signature")
		return exitUsage
	}
	content, err := os.Open(pos[0])
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong cms verify: cannot open the file:", err)
		return exitUsage
	}
	defer content.Close()
	rep, err := verify.Detached(ctx, content, sig, o)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong cms verify:", userMessage(err))
		return exitUsage
	}
	return f.printReport(e, rep)
}
