package verify

import (
	"time"
)

// Indication is the main validation status (EN 319 102-1 5.1.3).
type Indication string

const (
	TotalPassed   Indication = "TOTAL_PASSED"
	TotalFailed   Indication = "TOTAL_FAILED"
	Indeterminate Indication = "INDETERMINATE"
)

// SubIndication qualifies TOTAL_FAILED and INDETERMINATE (EN 319 102-1 Table 5, 6).
type SubIndication string

const (
	FormatFailure             SubIndication = "FORMAT_FAILURE"
	HashFailure               SubIndication = "HASH_FAILURE"
	SigCryptoFailure          SubIndication = "SIG_CRYPTO_FAILURE"
	Revoked                   SubIndication = "REVOKED"
	Expired                   SubIndication = "EXPIRED"
	NotYetValid               SubIndication = "NOT_YET_VALID"
	SigConstraintsFailure     SubIndication = "SIG_CONSTRAINTS_FAILURE"
	ChainConstraintsFailure   SubIndication = "CHAIN_CONSTRAINTS_FAILURE"
	CryptoConstraintsFailure  SubIndication = "CRYPTO_CONSTRAINTS_FAILURE"
	NoCertificateChainFound   SubIndication = "NO_CERTIFICATE_CHAIN_FOUND"
	NoSigningCertificateFound SubIndication = "NO_SIGNING_CERTIFICATE_FOUND"
	OutOfBoundsNoPOE          SubIndication = "OUT_OF_BOUNDS_NO_POE"
	RevokedNoPOE              SubIndication = "REVOKED_NO_POE"
	RevokedCANoPOE            SubIndication = "REVOKED_CA_NO_POE"
	TryLater                  SubIndication = "TRY_LATER"
	SignedDataNotFound        SubIndication = "SIGNED_DATA_NOT_FOUND"
	TimestampOrderFailure     SubIndication = "TIMESTAMP_ORDER_FAILURE"
)

// Status of one check.
type Status string

const (
	OK      Status = "ok"
	Failed  Status = "failed"
	Warning Status = "warning"
	Skipped Status = "skipped" // not applicable, or not reached because an earlier check failed
)

// Check is one validation step with a stable id (DSS message ids where one exists).
type Check struct {
	ID     string `json:"id"`
	Status Status `json:"status"`
	// Detail is an English explanation; the human output translates known ids.
	Detail string `json:"detail,omitempty"`
}

// Signer names the signing certificate.
type Signer struct {
	Subject      string    `json:"subject"`
	CommonName   string    `json:"common_name,omitempty"`
	Organization string    `json:"organization,omitempty"`
	Serial       string    `json:"serial"` // hexadecimal
	Issuer       string    `json:"issuer"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
}

// Coverage says what a PDF signature covers.
type Coverage struct {
	ByteRange      []int64 `json:"byte_range"`
	SignedRevision int     `json:"signed_revision"` // 0 = original file; -1 when no revision ends there
	SignedBytes    int64   `json:"signed_bytes"`
	FileSize       int64   `json:"file_size"`
	WholeDocument  bool    `json:"whole_document"` // no byte after the signed revision
	LaterRevisions int     `json:"later_revisions"`
}

// Modification is one object added, changed or removed in a revision after a signature.
type Modification struct {
	Revision int    `json:"revision"`
	Object   int    `json:"object"`
	Action   string `json:"action"` // added, changed, removed
	Kind     string `json:"kind"`   // what the object is: page, content, signature-field, dss, ...
	Status   Status `json:"status"` // ok (allowed), warning, failed
	Reason   string `json:"reason,omitempty"`
}

// SignatureReport is the validation of one signature.
type SignatureReport struct {
	Index         int           `json:"index"`
	Field         string        `json:"field,omitempty"`
	Type          string        `json:"type"` // signature, certification, document-timestamp, detached
	SubFilter     string        `json:"sub_filter,omitempty"`
	Indication    Indication    `json:"indication"`
	SubIndication SubIndication `json:"sub_indication,omitempty"`
	Signer        *Signer       `json:"signer,omitempty"`
	// ClaimedSigningTime is /M (or the CMS signing-time attribute); only a claim.
	ClaimedSigningTime *time.Time `json:"claimed_signing_time,omitempty"`
	// TimestampTime is the genTime of a valid signature timestamp: proof the signature existed then.
	TimestampTime *time.Time `json:"timestamp_time,omitempty"`
	// ValidationTime is the time at which the certificates were judged.
	ValidationTime time.Time      `json:"validation_time"`
	Level          string         `json:"level,omitempty"` // B-B, B-T, B-LT, B-LTA (PAdES), PKCS7-B/-T for adbe.pkcs7.detached
	DigestAlg      string         `json:"digest_algorithm,omitempty"`
	SignatureAlg   string         `json:"signature_algorithm,omitempty"`
	DocMDP         int            `json:"docmdp,omitempty"` // certification level (1..3) for a certification signature
	Reason         string         `json:"reason,omitempty"`
	Location       string         `json:"location,omitempty"`
	Coverage       *Coverage      `json:"coverage,omitempty"`
	Modifications  []Modification `json:"modifications,omitempty"`
	Checks         []Check        `json:"checks"`
}

// Report is the validation of one file.
type Report struct {
	File       string            `json:"file,omitempty"`
	Size       int64             `json:"size"`
	Revisions  int               `json:"revisions,omitempty"`
	Valid      bool              `json:"valid"` // at least one signature and every one TOTAL_PASSED
	Signatures []SignatureReport `json:"signatures"`
	// Problems are file-level findings (no signature, bytes after the last %%EOF, ...).
	Problems []string `json:"problems,omitempty"`
}

func (r *Report) finish() {
	r.Valid = len(r.Signatures) > 0 && len(r.Problems) == 0
	for _, s := range r.Signatures {
		if s.Indication != TotalPassed {
			r.Valid = false
		}
	}
	if r.Signatures == nil {
		r.Signatures = []SignatureReport{}
	}
}

// add records a check.
func (s *SignatureReport) add(id string, st Status, detail string) {
	s.Checks = append(s.Checks, Check{ID: id, Status: st, Detail: detail})
}

// fail records a failed check and sets the indication unless a graver one is already set: a
// TOTAL_FAILED is never downgraded to INDETERMINATE.
func (s *SignatureReport) fail(id string, ind Indication, sub SubIndication, detail string) {
	s.add(id, Failed, detail)
	if s.Indication == TotalFailed {
		return
	}
	if s.Indication == Indeterminate && ind == Indeterminate {
		return
	}
	s.Indication, s.SubIndication = ind, sub
}
