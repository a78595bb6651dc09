package axis

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lienthong/lienthong/exchange/edxml"
)

// Reference protocol (v1) of our hub, served by exchange/hub:
//
//	POST /v1/packets            body: raw edXML; headers X-Message-Id (idempotency key), X-To (comma-
//	                            separated recipients; default: the packet's To, or ResponseFor for a status),
//	                            optional X-Sha256 (hex digest of the body; 422 digest_mismatch if it differs),
//	                            X-Retry: 1 on a later attempt (the hub answers a known message id first)
//	                            → 201 {"id","accepted_at","duplicate":false} or 200 with "duplicate":true
//	GET  /v1/inbox?kind=&limit=&inline= → {"items":[Item...]}; with inline=N, packets of at most N
//	                            bytes (kept in the database) carry their bytes in "body" (base64)
//	GET  /v1/inbox/{id}         → raw edXML
//	POST /v1/inbox/{id}/ack     body {"ok":bool,"reason":""} → 204
//	POST /v1/inbox/ack          body {"acks":[{"id","ok","reason"}...]} (at most 1000) → 200
//	                            {"acked":n}; ids not in our inbox are skipped
//	GET  /v1/sent/{id}          → the transport state of a packet we sent, per recipient
//
// Every call carries "Authorization: Bearer <node token>"; the hub binds the token to one organisation.
// Errors are application/problem+json with "code".

// MaxPacket is the largest packet a Reference client or hub moves.
const MaxPacket = 100 << 20

// Reference is the client of our reference axis.
type Reference struct {
	BaseURL string // e.g. http://127.0.0.1:7400
	Token   string // this node's secret
	Client  *http.Client
	Now     func() time.Time
}

// SendResult is the hub's answer to a push.
type SendResult struct {
	ID         string    `json:"id"`
	AcceptedAt time.Time `json:"accepted_at"`
	Duplicate  bool      `json:"duplicate"`
	SHA256     string    `json:"sha256"`
}

type problem struct {
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

func (r *Reference) client() *http.Client {
	if r.Client != nil {
		return r.Client
	}
	return http.DefaultClient
}

func (r *Reference) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reference) do(ctx context.Context, op, method, path string, body io.Reader, hdr http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(r.BaseURL, "/")+path, body)
	if err != nil {
		return nil, nil, &Error{Op: op, Message: "bad request", Err: err}
	}
	if sr, ok := body.(*io.SectionReader); ok { // a stored packet: its length is known, and it can be re-read
		req.ContentLength = sr.Size()
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(sr, 0, sr.Size())), nil }
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+r.Token)
	resp, err := r.client().Do(req)
	if err != nil {
		return nil, nil, netError(op, err)
	}
	defer resp.Body.Close()
	b, err := ReadBody(resp.Body, resp.ContentLength, MaxPacket)
	if err != nil {
		return nil, nil, netError(op, err)
	}
	if resp.StatusCode >= 300 {
		var p problem
		_ = json.Unmarshal(b, &p)
		msg := p.Detail
		if msg == "" {
			msg = strings.TrimSpace(string(b[:min(len(b), 200)]))
		}
		return resp, b, httpError(op, resp, p.Code, msg, r.now())
	}
	return resp, b, nil
}

// Send pushes a packet.
func (r *Reference) Send(ctx context.Context, out Outgoing) (Receipt, error) {
	if err := checkOutgoing(out); err != nil {
		return Receipt{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/xml")
	h.Set("X-Message-Id", out.MessageID)
	if len(out.To) > 0 {
		h.Set("X-To", strings.Join(out.To, ","))
	}
	var body io.Reader = bytes.NewReader(out.Body)
	if out.Body == nil {
		body = io.NewSectionReader(out.Stream, 0, out.Size)
	}
	if len(out.SHA256) > 0 {
		h.Set("X-Sha256", hex.EncodeToString(out.SHA256))
	}
	if out.Retry {
		h.Set("X-Retry", "1")
	}
	_, b, err := r.do(ctx, "send", http.MethodPost, "/v1/packets", body, h)
	if err != nil {
		return Receipt{}, err
	}
	var res SendResult
	if err := json.Unmarshal(b, &res); err != nil || res.ID == "" {
		return Receipt{}, &Error{Op: "send", Message: "unreadable receipt", Temporary: true, Err: err}
	}
	return Receipt{ID: res.ID, At: res.AcceptedAt, Duplicate: res.Duplicate, Raw: b}, nil
}

// List returns waiting packets.
func (r *Reference) List(ctx context.Context, kind edxml.Kind, limit int) ([]Item, error) {
	q := url.Values{}
	if kind != "" {
		q.Set("kind", string(kind))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	q.Set("inline", strconv.Itoa(InlineListing))
	_, b, err := r.do(ctx, "list", http.MethodGet, "/v1/inbox?"+q.Encode(), nil, nil)
	if err != nil {
		return nil, err
	}
	var res struct {
		Items []Item `json:"items"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, &Error{Op: "list", Message: "unreadable inbox", Temporary: true, Err: err}
	}
	return res.Items, nil
}

// Fetch returns a waiting packet's bytes.
func (r *Reference) Fetch(ctx context.Context, id string) ([]byte, error) {
	_, b, err := r.do(ctx, "fetch", http.MethodGet, "/v1/inbox/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxPacket {
		return nil, &Error{Op: "fetch", Message: fmt.Sprintf("packet larger than %d bytes", MaxPacket)}
	}
	return b, nil
}

// Ack acknowledges a packet.
func (r *Reference) Ack(ctx context.Context, id string, ok bool, reason string) error {
	body, _ := json.Marshal(map[string]any{"ok": ok, "reason": reason})
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	_, _, err := r.do(ctx, "ack", http.MethodPost, "/v1/inbox/"+url.PathEscape(id)+"/ack", bytes.NewReader(body), h)
	return err
}

// StreamsPackets: the hub checks the digest a sender declares (X-Sha256).
func (r *Reference) StreamsPackets() bool { return true }

// AckMany acknowledges many packets in one call.
func (r *Reference) AckMany(ctx context.Context, acks []Ack) error {
	for len(acks) > 0 {
		part := acks[:min(len(acks), MaxAcks)]
		acks = acks[len(part):]
		body, _ := json.Marshal(map[string]any{"acks": part})
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		if _, _, err := r.do(ctx, "ack", http.MethodPost, "/v1/inbox/ack", bytes.NewReader(body), h); err != nil {
			return err
		}
	}
	return nil
}

// InlineListing is the size up to which our client asks the hub to include packets in its listing:
// status packets (a few KB) then need no fetch of their own.
const InlineListing = 16 << 10

// MaxAcks is the most acknowledgements one AckMany call to the hub carries.
const MaxAcks = 1000

// SentState is the transport state of a packet we sent, as the hub knows it.
type SentState struct {
	ID         string     `json:"id"`
	To         string     `json:"to"`
	State      string     `json:"state"` // pending, done, fail
	Reason     string     `json:"reason,omitempty"`
	AcceptedAt time.Time  `json:"accepted_at"`
	AckedAt    *time.Time `json:"acked_at,omitempty"`
}

// Sent asks the hub what became of a packet we sent.
func (r *Reference) Sent(ctx context.Context, id string) (SentState, error) {
	_, b, err := r.do(ctx, "sent", http.MethodGet, "/v1/sent/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return SentState{}, err
	}
	var s SentState
	if err := json.Unmarshal(b, &s); err != nil {
		return SentState{}, &Error{Op: "sent", Message: "unreadable answer", Temporary: true, Err: err}
	}
	return s, nil
}

// ReadBody reads r to the end like io.ReadAll(io.LimitReader(r, limit+1)), but sizes its buffer from
// the announced length (Content-Length; ≤ 0 when unknown) so that a 160 KB packet is read into one
// allocation instead of a dozen doublings and copies.
func ReadBody(r io.Reader, size, limit int64) ([]byte, error) {
	return AppendBody(nil, r, size, limit)
}

// AppendBody is ReadBody appending to dst, so that a caller can reuse one buffer across requests.
func AppendBody(dst []byte, r io.Reader, size, limit int64) ([]byte, error) {
	lr := io.LimitReader(r, limit+1)
	if size <= 0 || size > limit {
		size = 0
	}
	b := dst[:0]
	if need := int(size) + 1; cap(b) < need { // +1: reaching EOF needs no growth
		b = make([]byte, 0, need)
	}
	for {
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}
