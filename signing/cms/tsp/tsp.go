// Package tsp is an RFC 3161 time-stamp client and token reader: it asks a TSA over HTTP
// (application/timestamp-query), checks that the answer stamps our digest with our nonce, and parses
// and verifies tokens found in signatures (PAdES B-T signature timestamps, document timestamps).
// Whether the TSA certificate is trusted is the caller's chain check.
package tsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/lienthong/lienthong/signing/cms"
)

// Errors a caller may want to tell apart.
var (
	ErrFormat   = errors.New("tsp: malformed time-stamp data")
	ErrImprint  = errors.New("tsp: the token does not stamp the expected digest")
	ErrNonce    = errors.New("tsp: the response nonce differs from the request's")
	ErrRejected = errors.New("tsp: the time-stamp authority refused the request")
	ErrNotTSA   = errors.New("tsp: the token's signer is not a time-stamping certificate (critical timeStamping EKU)")
)

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type messageImprint struct {
	HashAlgorithm algorithmIdentifier
	HashedMessage []byte
}

type timeStampReq struct {
	Version        int
	MessageImprint messageImprint
	ReqPolicy      asn1.ObjectIdentifier `asn1:"optional"`
	Nonce          *big.Int              `asn1:"optional"`
	CertReq        bool                  `asn1:"optional,default:false"`
	Extensions     asn1.RawValue         `asn1:"optional,tag:0"`
}

type pkiStatusInfo struct {
	Status       int
	StatusString []asn1.RawValue `asn1:"optional"`
	FailInfo     asn1.BitString  `asn1:"optional"`
}

type timeStampResp struct {
	Status         pkiStatusInfo
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

type accuracy struct {
	Seconds int `asn1:"optional"`
	Millis  int `asn1:"optional,tag:0"`
	Micros  int `asn1:"optional,tag:1"`
}

type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint messageImprint
	SerialNumber   *big.Int
	GenTime        time.Time     `asn1:"generalized"`
	Accuracy       accuracy      `asn1:"optional"`
	Ordering       bool          `asn1:"optional,default:false"`
	Nonce          *big.Int      `asn1:"optional"`
	TSA            asn1.RawValue `asn1:"optional,explicit,tag:0"`
	Extensions     asn1.RawValue `asn1:"optional,tag:1"`
}

// Request is a parsed time-stamp request (the test TSA reads it).
type Request struct {
	Hash    crypto.Hash
	Digest  []byte
	Nonce   *big.Int
	CertReq bool
	Policy  asn1.ObjectIdentifier
}

// MarshalRequest encodes a TimeStampReq.
func MarshalRequest(r Request) ([]byte, error) {
	oid, ok := hashOIDs[r.Hash]
	if !ok || len(r.Digest) != r.Hash.Size() {
		return nil, fmt.Errorf("tsp: unsupported digest %v or wrong length", r.Hash)
	}
	return asn1.Marshal(timeStampReq{
		Version:        1,
		MessageImprint: messageImprint{HashAlgorithm: algorithmIdentifier{Algorithm: oid}, HashedMessage: r.Digest},
		ReqPolicy:      r.Policy,
		Nonce:          r.Nonce,
		CertReq:        r.CertReq,
	})
}

// ParseRequest decodes a TimeStampReq.
func ParseRequest(der []byte) (*Request, error) {
	var q timeStampReq
	rest, err := asn1.Unmarshal(der, &q)
	if err != nil || len(rest) > 0 || q.Version != 1 {
		return nil, fmt.Errorf("%w: request", ErrFormat)
	}
	h, ok := cms.HashFromOID(q.MessageImprint.HashAlgorithm.Algorithm)
	if !ok || len(q.MessageImprint.HashedMessage) != h.Size() {
		return nil, fmt.Errorf("%w: request imprint", ErrFormat)
	}
	return &Request{Hash: h, Digest: q.MessageImprint.HashedMessage, Nonce: q.Nonce, CertReq: q.CertReq, Policy: q.ReqPolicy}, nil
}

var hashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.SHA256: cms.OIDSHA256, crypto.SHA384: cms.OIDSHA384, crypto.SHA512: cms.OIDSHA512,
}

// Client asks one TSA for tokens. The zero HTTP client means http.DefaultClient with a 30 s limit.
type Client struct {
	URL    string
	HTTP   *http.Client
	Policy asn1.ObjectIdentifier // optional requested policy
}

// maxResponse bounds what we read from a TSA.
const maxResponse = 1 << 20

// Timestamp obtains a token over digest (made with hash) and checks it stamps that digest with the
// request's nonce and is signed by a time-stamping certificate. Its shape is cms.TimestampFunc.
func (c *Client) Timestamp(ctx context.Context, hash crypto.Hash, digest []byte) ([]byte, error) {
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	body, err := MarshalRequest(Request{Hash: hash, Digest: digest, Nonce: nonce, CertReq: true, Policy: c.Policy})
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("tsp: %w", err)
	}
	req.Header.Set("Content-Type", "application/timestamp-query")
	req.Header.Set("Accept", "application/timestamp-reply")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tsp: asking %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP %s", ErrRejected, resp.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("tsp: reading the response: %w", err)
	}
	if len(raw) > maxResponse {
		return nil, fmt.Errorf("%w: response over %d bytes", ErrFormat, maxResponse)
	}
	token, err := ParseResponse(raw)
	if err != nil {
		return nil, err
	}
	tok, err := ParseToken(token)
	if err != nil {
		return nil, err
	}
	if tok.Nonce == nil || tok.Nonce.Cmp(nonce) != 0 {
		return nil, ErrNonce
	}
	if err := tok.Verify(hash, digest); err != nil {
		return nil, err
	}
	return token, nil
}

// ParseResponse returns the token (DER ContentInfo) of a granted TimeStampResp.
func ParseResponse(der []byte) ([]byte, error) {
	norm, rest, err := cms.NormalizeBER(der)
	if err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: response", ErrFormat)
	}
	var r timeStampResp
	if rest, err := asn1.Unmarshal(norm, &r); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: response", ErrFormat)
	}
	if r.Status.Status != 0 && r.Status.Status != 1 { // granted, grantedWithMods
		return nil, fmt.Errorf("%w: status %d", ErrRejected, r.Status.Status)
	}
	if len(r.TimeStampToken.FullBytes) == 0 {
		return nil, fmt.Errorf("%w: granted without a token", ErrFormat)
	}
	return r.TimeStampToken.FullBytes, nil
}

// MarshalResponse wraps a token in a granted TimeStampResp (or a rejection when token is nil).
func MarshalResponse(token []byte) ([]byte, error) {
	r := timeStampResp{Status: pkiStatusInfo{Status: 0}}
	if token == nil {
		r.Status.Status = 2
	} else {
		r.TimeStampToken = asn1.RawValue{FullBytes: token}
	}
	return asn1.Marshal(r)
}

// Token is a parsed time-stamp token.
type Token struct {
	Raw          []byte // DER ContentInfo
	SignedData   *cms.SignedData
	Hash         crypto.Hash // imprint hash
	Imprint      []byte
	GenTime      time.Time
	SerialNumber *big.Int
	Nonce        *big.Int
	Policy       asn1.ObjectIdentifier
	Accuracy     time.Duration
}

// ParseToken reads a token: a SignedData with exactly one signer carrying a TSTInfo.
func ParseToken(der []byte) (*Token, error) {
	sd, err := cms.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if !sd.ContentType.Equal(cms.OIDTSTInfo) || sd.Content == nil {
		return nil, fmt.Errorf("%w: the token does not carry a TSTInfo", ErrFormat)
	}
	var info tstInfo
	if rest, err := asn1.Unmarshal(sd.Content, &info); err != nil || len(rest) > 0 || info.Version != 1 {
		return nil, fmt.Errorf("%w: TSTInfo", ErrFormat)
	}
	h, ok := cms.HashFromOID(info.MessageImprint.HashAlgorithm.Algorithm)
	if !ok {
		return nil, fmt.Errorf("%w: imprint hash %v", ErrFormat, info.MessageImprint.HashAlgorithm.Algorithm)
	}
	acc := time.Duration(info.Accuracy.Seconds)*time.Second + time.Duration(info.Accuracy.Millis)*time.Millisecond +
		time.Duration(info.Accuracy.Micros)*time.Microsecond
	return &Token{
		Raw: sd.Raw, SignedData: sd, Hash: h, Imprint: info.MessageImprint.HashedMessage, GenTime: info.GenTime,
		SerialNumber: info.SerialNumber, Nonce: info.Nonce, Policy: info.Policy, Accuracy: acc,
	}, nil
}

// Verify checks the token's imprint against digest (made with hash; pass 0 to compute nothing and
// only compare the bytes with the token's own hash), its CMS signature, and that its signer has the
// critical timeStamping extended key usage (RFC 3161 2.3).
func (t *Token) Verify(hash crypto.Hash, digest []byte) error {
	if hash != 0 && hash != t.Hash {
		return fmt.Errorf("%w: imprint made with %v, expected %v", ErrImprint, t.Hash, hash)
	}
	if !bytes.Equal(t.Imprint, digest) {
		return ErrImprint
	}
	_, err := t.Signer()
	return err
}

// VerifyData hashes data with the token's imprint hash and verifies the token over it.
func (t *Token) VerifyData(r io.Reader) error {
	if !t.Hash.Available() {
		return fmt.Errorf("%w: imprint hash", ErrFormat)
	}
	h := t.Hash.New()
	if _, err := io.Copy(h, r); err != nil {
		return err
	}
	return t.Verify(t.Hash, h.Sum(nil))
}

// Signer verifies the token's signature and returns the TSA certificate.
func (t *Token) Signer() (*x509.Certificate, error) {
	v, err := t.SignedData.VerifyEncapsulated()
	if err != nil {
		return nil, fmt.Errorf("tsp: token signature: %w", err)
	}
	if !IsTSACert(v.Cert) {
		return nil, ErrNotTSA
	}
	return v.Cert, nil
}

var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

// IsTSACert reports whether c has exactly the timeStamping extended key usage, marked critical.
func IsTSACert(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(c.UnknownExtKeyUsage) > 0 {
		return false
	}
	for _, e := range c.Extensions {
		if e.Id.Equal(oidExtKeyUsage) {
			return e.Critical
		}
	}
	return false
}

// MarshalTSTInfo encodes a TSTInfo (used by the test TSA).
func MarshalTSTInfo(policy asn1.ObjectIdentifier, hash crypto.Hash, digest []byte, serial *big.Int, genTime time.Time, nonce *big.Int) ([]byte, error) {
	oid, ok := hashOIDs[hash]
	if !ok {
		if hash == crypto.SHA1 {
			oid = cms.OIDSHA1
		} else {
			return nil, fmt.Errorf("tsp: unsupported digest %v", hash)
		}
	}
	return asn1.Marshal(tstInfo{
		Version: 1, Policy: policy,
		MessageImprint: messageImprint{HashAlgorithm: algorithmIdentifier{Algorithm: oid}, HashedMessage: digest},
		SerialNumber:   serial, GenTime: genTime.UTC().Truncate(time.Second), Accuracy: accuracy{Seconds: 1}, Nonce: nonce,
	})
}
