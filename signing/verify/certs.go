package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ocsp"
)

// evidence is the material a certificate check draws on.
type evidence struct {
	certs []*x509.Certificate // from the CMS and the DSS: candidate intermediates
	ocsps [][]byte
	crls  [][]byte
}

func (e *evidence) add(o evidence) {
	e.certs = append(e.certs, o.certs...)
	e.ocsps = append(e.ocsps, o.ocsps...)
	e.crls = append(e.crls, o.crls...)
}

// certRole tells which key usages a certificate needs.
type certRole int

const (
	roleSigner certRole = iota
	roleTSA
)

// certResult is what a certificate check found.
type certResult struct {
	chain         []*x509.Certificate
	revocationOK  bool // a good status was found for the end-entity
	revocationSrc string
}

func signerOf(c *x509.Certificate) *Signer {
	s := &Signer{
		Subject: c.Subject.String(), CommonName: c.Subject.CommonName, Issuer: c.Issuer.String(),
		Serial: hex.EncodeToString(c.SerialNumber.Bytes()), NotBefore: c.NotBefore, NotAfter: c.NotAfter,
	}
	if len(c.Subject.Organization) > 0 {
		s.Organization = c.Subject.Organization[0]
	}
	return s
}

// checkCertificate validates cert for role at the reference time: the timestamp's time when one
// proves the signature existed then, otherwise the validation time. claimed is the signer's own claim
// of the signing time (/M), used only to prove a certificate was used outside its validity.
func (v *validator) checkCertificate(ctx context.Context, rep *SignatureReport, prefix string, cert *x509.Certificate,
	role certRole, ev evidence, tsTime, claimed *time.Time,
) *certResult {
	ref := v.now
	if tsTime != nil {
		ref = *tsTime
	}
	res := &certResult{}

	// Key usage first: a certificate not meant for signatures fails whatever its chain.
	switch role {
	case roleSigner:
		if cert.KeyUsage != 0 && cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
			rep.fail(prefix+"CERT_KEY_USAGE", Indeterminate, ChainConstraintsFailure,
				"the signing certificate's key usage allows neither digitalSignature nor nonRepudiation")
		} else {
			rep.add(prefix+"CERT_KEY_USAGE", OK, "")
		}
	case roleTSA:
		if !hasOnlyTimeStamping(cert) {
			rep.fail(prefix+"CERT_KEY_USAGE", Indeterminate, ChainConstraintsFailure,
				"the time-stamping certificate lacks the critical timeStamping extended key usage")
		} else {
			rep.add(prefix+"CERT_KEY_USAGE", OK, "")
		}
	}

	// Validity of the certificate itself, with the evidence we have about when it was used.
	switch {
	case claimed != nil && claimed.Before(cert.NotBefore):
		rep.fail(prefix+"CERT_VALIDITY", TotalFailed, NotYetValid,
			fmt.Sprintf("signed at %s, before the certificate became valid (%s)", claimed.UTC().Format(time.RFC3339), cert.NotBefore.UTC().Format(time.RFC3339)))
	case tsTime != nil && tsTime.Before(cert.NotBefore):
		rep.fail(prefix+"CERT_VALIDITY", TotalFailed, NotYetValid, "the timestamp predates the certificate")
	case claimed != nil && claimed.After(cert.NotAfter):
		rep.fail(prefix+"CERT_VALIDITY", TotalFailed, Expired,
			fmt.Sprintf("signed at %s, after the certificate expired (%s)", claimed.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339)))
	case ref.After(cert.NotAfter):
		rep.fail(prefix+"CERT_VALIDITY", Indeterminate, OutOfBoundsNoPOE,
			fmt.Sprintf("the certificate expired on %s and no timestamp proves the signature existed before", cert.NotAfter.UTC().Format(time.RFC3339)))
	case ref.Before(cert.NotBefore):
		rep.fail(prefix+"CERT_VALIDITY", TotalFailed, NotYetValid, "the certificate is not yet valid")
	default:
		rep.add(prefix+"CERT_VALIDITY", OK, "")
	}

	// Chain to a trust anchor, judged at the reference time (or, when the certificate itself is out
	// of its validity, within it, so the chain finding stays independent of the validity finding).
	if v.opts.Roots == nil {
		rep.fail(prefix+"CERT_CHAIN", Indeterminate, NoCertificateChainFound, "no trust anchors configured (use --trust)")
		return res
	}
	inter := x509.NewCertPool()
	for _, c := range ev.certs {
		if !c.Equal(cert) {
			inter.AddCert(c)
		}
	}
	at := ref
	if at.After(cert.NotAfter) || at.Before(cert.NotBefore) {
		at = cert.NotBefore.Add(cert.NotAfter.Sub(cert.NotBefore) / 2)
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots: v.opts.Roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var ua x509.UnknownAuthorityError
		var ci x509.CertificateInvalidError
		switch {
		case errors.As(err, &ua):
			rep.fail(prefix+"CERT_CHAIN", Indeterminate, NoCertificateChainFound, "the certificate does not chain to a trusted root: "+err.Error())
		case errors.As(err, &ci) && ci.Reason == x509.Expired:
			rep.fail(prefix+"CERT_CHAIN", Indeterminate, OutOfBoundsNoPOE, "a CA certificate of the chain is outside its validity: "+err.Error())
		default:
			rep.fail(prefix+"CERT_CHAIN", Indeterminate, ChainConstraintsFailure, err.Error())
		}
		return res
	}
	res.chain = chains[0]
	rep.add(prefix+"CERT_CHAIN", OK, "chain: "+chainNames(res.chain))

	// Revocation of the end-entity certificate.
	if len(res.chain) < 2 {
		rep.add(prefix+"CERT_REVOCATION", Skipped, "the certificate is itself a trust anchor")
		res.revocationOK = true
		return res
	}
	// CA certificates of the chain: a revoked CA taints what it issued after its revocation. Only
	// evidence that is at hand counts; missing data for a CA is not reported.
	for i := 1; i+1 < len(res.chain); i++ {
		ca, up := res.chain[i], res.chain[i+1]
		st := v.revocation(ctx, ca, up, ev)
		if st.revoked && (tsTime == nil || !tsTime.Before(st.revokedAt)) {
			rep.fail(prefix+"CERT_CA_REVOCATION", Indeterminate, RevokedCANoPOE,
				fmt.Sprintf("the CA certificate %q was revoked on %s (%s)", ca.Subject.CommonName, st.revokedAt.UTC().Format(time.RFC3339), st.source))
		}
	}
	issuer := res.chain[1]
	st := v.revocation(ctx, cert, issuer, ev)
	switch {
	case st.revoked:
		switch {
		case tsTime != nil && tsTime.Before(st.revokedAt):
			rep.add(prefix+"CERT_REVOCATION", Warning, fmt.Sprintf("revoked on %s, after the timestamp proves the signature existed (%s)", st.revokedAt.UTC().Format(time.RFC3339), st.source))
			res.revocationOK = true
		case tsTime != nil || (claimed != nil && !claimed.Before(st.revokedAt)):
			rep.fail(prefix+"CERT_REVOCATION", TotalFailed, Revoked, fmt.Sprintf("the certificate was revoked on %s (%s)", st.revokedAt.UTC().Format(time.RFC3339), st.source))
		default:
			rep.fail(prefix+"CERT_REVOCATION", Indeterminate, RevokedNoPOE, fmt.Sprintf("the certificate was revoked on %s and nothing proves the signature existed before (%s)", st.revokedAt.UTC().Format(time.RFC3339), st.source))
		}
	case st.good:
		rep.add(prefix+"CERT_REVOCATION", OK, "not revoked ("+st.source+")")
		res.revocationOK = true
		res.revocationSrc = st.source
	default:
		msg := "no revocation data (OCSP or CRL) for the certificate"
		if st.err != nil {
			msg += ": " + st.err.Error()
		}
		if v.opts.RequireRevocation {
			rep.fail(prefix+"CERT_REVOCATION", Indeterminate, TryLater, msg)
		} else {
			rep.add(prefix+"CERT_REVOCATION", Warning, msg)
		}
	}
	return res
}

func chainNames(chain []*x509.Certificate) string {
	var b bytes.Buffer
	for i, c := range chain {
		if i > 0 {
			b.WriteString(" → ")
		}
		name := c.Subject.CommonName
		if name == "" {
			name = c.Subject.String()
		}
		b.WriteString(name)
	}
	return b.String()
}

var oidEKU = []int{2, 5, 29, 37}

func hasOnlyTimeStamping(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(c.UnknownExtKeyUsage) > 0 {
		return false
	}
	for _, e := range c.Extensions {
		if e.Id.Equal(oidEKU) {
			return e.Critical
		}
	}
	return false
}

type revStatus struct {
	good, revoked bool
	revokedAt     time.Time
	source        string
	err           error
}

// revocation looks for the status of cert in embedded OCSP responses and CRLs, then, when allowed,
// fetches them. A response or CRL counts only when its signature verifies with the issuer (or a
// responder the issuer delegated to).
func (v *validator) revocation(ctx context.Context, cert, issuer *x509.Certificate, ev evidence) revStatus {
	if st, ok := fromOCSP(ev.ocsps, cert, issuer); ok {
		st.source = "embedded OCSP"
		return st
	}
	if st, ok := fromCRLs(ev.crls, cert, issuer); ok {
		st.source = "embedded CRL"
		return st
	}
	f := v.opts.Revocation
	if f == nil {
		return revStatus{}
	}
	var errs []error
	if len(cert.OCSPServer) > 0 {
		der, err := f.OCSP(ctx, cert, issuer)
		if err == nil {
			if st, ok := fromOCSP([][]byte{der}, cert, issuer); ok {
				st.source = "fetched OCSP"
				return st
			}
		} else {
			errs = append(errs, err)
		}
	}
	for _, u := range cert.CRLDistributionPoints {
		der, err := f.CRL(ctx, u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st, ok := fromCRLs([][]byte{der}, cert, issuer); ok {
			st.source = "fetched CRL"
			return st
		}
	}
	return revStatus{err: errors.Join(errs...)}
}

func fromOCSP(resps [][]byte, cert, issuer *x509.Certificate) (revStatus, bool) {
	for _, der := range resps {
		r, err := ocsp.ParseResponseForCert(der, cert, issuer)
		if err != nil {
			continue
		}
		switch r.Status {
		case ocsp.Good:
			return revStatus{good: true}, true
		case ocsp.Revoked:
			return revStatus{revoked: true, revokedAt: r.RevokedAt}, true
		}
	}
	return revStatus{}, false
}

func fromCRLs(crls [][]byte, cert, issuer *x509.Certificate) (revStatus, bool) {
	for _, der := range crls {
		crl, err := x509.ParseRevocationList(der)
		if err != nil || !bytes.Equal(crl.RawIssuer, cert.RawIssuer) || crl.CheckSignatureFrom(issuer) != nil {
			continue
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return revStatus{revoked: true, revokedAt: e.RevocationTime}, true
			}
		}
		return revStatus{good: true}, true
	}
	return revStatus{}, false
}
