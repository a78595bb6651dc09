// Package axis is the transport between a node and an interchange axis: push a packet, list and fetch
// the packets waiting for us, acknowledge them, and send or receive statuses (status packets travel the
// same way with Kind status). Three adapters implement it: Reference (our own hub, `lienthong axis`),
// National (the national axis VDXP: parameters in HTTP headers, HMAC-signed) and LGSP (a provincial
// platform's OAuth2 REST API). Endpoints are configuration.
//
// Organisation codes are opaque strings here: QCVN 102 codes (000.00.00.H53) and the newer codes of up
// to 35 characters pass through untouched; nothing is rejected because of its shape.
package axis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/lienthong/lienthong/exchange/edxml"
)

// Outgoing is a packet to push.
type Outgoing struct {
	// MessageID is stable per (document, recipient, action) and reused on every retry: the axis
	// answers a repeat with the first receipt instead of delivering twice.
	MessageID string
	Kind      edxml.Kind
	From      string
	To        []string // transport recipients; one per delivery job in our engine
	Body      []byte   // the raw edXML
	// Stream, when Body is nil, holds the Size bytes of the packet (a range of the sender's packet
	// store) and SHA256 their digest: an axis that implements StreamingAxis sends them without a copy
	// and declares the digest, so that bytes damaged at rest are refused, not delivered.
	Stream io.ReaderAt
	Size   int64
	SHA256 []byte
	// Retry marks a push that may have reached the axis before (a later attempt of the delivery):
	// our hub then looks the message id up before storing the bytes again.
	Retry bool
}

// StreamingAxis is implemented by axes that send Outgoing.Stream and have the receiving side check the
// declared SHA256 (our hub). Other axes get Body.
type StreamingAxis interface {
	StreamsPackets() bool
}

// Receipt is the axis's acceptance of a pushed packet: that is when a delivery counts as sent.
type Receipt struct {
	ID        string    // the axis's id (VDXP DocId)
	At        time.Time // acceptance time
	Duplicate bool      // the axis had this MessageID already
	Raw       []byte    // the response body, kept as evidence
}

// Item is a packet waiting in our inbox on the axis.
type Item struct {
	ID         string     `json:"id"`
	From       string     `json:"from"`
	To         string     `json:"to,omitempty"`
	Kind       edxml.Kind `json:"kind"`
	MessageID  string     `json:"message_id,omitempty"`
	SHA256     string     `json:"sha256,omitempty"`
	Size       int        `json:"size,omitempty"`
	ReceivedAt time.Time  `json:"received_at,omitzero"`
	// Body is the packet itself when the axis includes small packets in its listing (our hub does for
	// status packets), sparing a fetch; nil means fetch it.
	Body []byte `json:"body,omitempty"`
}

// Axis is what the delivery side needs from an interchange axis.
type Axis interface {
	// Send pushes one packet. It must be idempotent on Outgoing.MessageID.
	Send(ctx context.Context, out Outgoing) (Receipt, error)
	// List returns packets of the kind waiting for us (not yet acknowledged), oldest first.
	List(ctx context.Context, kind edxml.Kind, limit int) ([]Item, error)
	// Fetch returns the raw bytes of a waiting packet.
	Fetch(ctx context.Context, id string) ([]byte, error)
	// Ack is the transport acknowledgement (VDXP updateStatus done|fail), sent after durable storage;
	// it is not an edXML status. An acknowledged packet leaves the inbox.
	Ack(ctx context.Context, id string, ok bool, reason string) error
}

// Ack is one transport acknowledgement.
type Ack struct {
	ID     string `json:"id"`
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
}

// BatchAcker is implemented by axes that take many acknowledgements in one call (our hub). AckMany
// acknowledges every packet it can; a packet no longer waiting is not an error.
type BatchAcker interface {
	AckMany(ctx context.Context, acks []Ack) error
}

// Error is a failed axis call. Temporary errors may succeed if retried (network, 5xx, 429);
// RetryAfter is the wait the axis asked for (429/503 Retry-After), zero if none.
type Error struct {
	Op         string
	Status     int // HTTP status, 0 for network errors
	Code       string
	Message    string
	Temporary  bool
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	s := "axis " + e.Op + ": "
	if e.Status != 0 {
		s += "HTTP " + strconv.Itoa(e.Status) + " "
	}
	if e.Code != "" {
		s += e.Code + " "
	}
	s += e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// IsTemporary reports whether err may go away on retry. Unknown errors count as temporary: a
// delivery is cancelled only on an answer that says the packet itself is wrong.
func IsTemporary(err error) bool {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Temporary
	}
	return !errors.Is(err, context.Canceled)
}

// RetryAfter returns the wait an axis asked for, or zero.
func RetryAfter(err error) time.Duration {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}

// httpError classifies an HTTP answer.
func httpError(op string, resp *http.Response, code, msg string, now time.Time) *Error {
	e := &Error{Op: op, Status: resp.StatusCode, Code: code, Message: msg}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout,
		resp.StatusCode == http.StatusUnauthorized: // a token may simply have expired
		e.Temporary = true
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	return e
}

func netError(op string, err error) *Error {
	return &Error{Op: op, Message: "no answer", Temporary: true, Err: err}
}

// parseRetryAfter reads delay-seconds or an HTTP date, capped at one day.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		d = 0
	}
	if d > 24*time.Hour {
		d = 24 * time.Hour
	}
	return d
}

func checkOutgoing(out Outgoing) error {
	size := int64(len(out.Body))
	if out.Body == nil && out.Stream != nil && len(out.SHA256) == 32 {
		size = out.Size
	}
	if out.MessageID == "" || out.From == "" || size <= 0 {
		return &Error{Op: "send", Message: fmt.Sprintf("incomplete packet (message id %q, from %q, %d bytes)", out.MessageID, out.From, size)}
	}
	return nil
}
