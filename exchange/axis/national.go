package axis

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lienthong/lienthong/exchange/edxml"
)

// National is the adapter for the national axis (VDXP) as its public SDK documents it: one POST per
// operation at {Endpoint}/{operation}, parameters in HTTP headers, each header repeated as
// "XroadVnpt-<name>" and signed with HMAC-SHA256 over a JSON object of those headers.
type National struct {
	Endpoint string // e.g. https://vdxp.example/api/v1
	SystemID string
	Secret   []byte
	From     string // our organisation code
	// ServiceType is sent as "servicetype" (the SDK uses "eDoc").
	ServiceType string
	// HashCompat writes hash-file the way the Java SDK does (each byte without its leading zero).
	HashCompat bool
	Client     *http.Client
	Now        func() time.Time
}

// NationalVersion is the XroadVnpt-version the SDK sends.
const NationalVersion = "3.0.201608"

func (n *National) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// NationalTimestamp renders ddMMyyyy'T'HHmmss+SSSS (SSSS = milliseconds) in Vietnam time.
func NationalTimestamp(t time.Time) string {
	t = t.In(edxml.Vietnam)
	return t.Format("02012006T150405") + fmt.Sprintf("+%04d", t.Nanosecond()/1e6)
}

// HashFile renders SHA-256 hex, or the SDK's variant without leading zeros per byte.
func HashFile(b []byte, compat bool) string {
	s := sha256.Sum256(b)
	if !compat {
		return hex.EncodeToString(s[:])
	}
	var sb strings.Builder
	for _, c := range s {
		fmt.Fprintf(&sb, "%x", c)
	}
	return sb.String()
}

// SignHeaders adds the XroadVnpt signature headers for params to h. The signed JSON is built here, in
// the order of names, and sent exactly as signed.
func SignHeaders(h http.Header, secret []byte, names []string, params map[string]string) {
	var keys []string
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, name := range names {
		v := params[name]
		h.Set(name, v)
		k := "XroadVnpt-" + name
		h.Set(k, v)
		keys = append(keys, k)
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(v)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	mac := hmac.New(sha256.New, secret)
	mac.Write(buf.Bytes())
	h.Set("XroadVnpt-sign-header-key", strings.Join(keys, ";"))
	h.Set("XroadVnpt-sign-header", buf.String())
	h.Set("XroadVnpt-hash-header", hex.EncodeToString(mac.Sum(nil)))
	h.Set("XroadVnpt-version", NationalVersion)
}

// VerifySignedHeaders checks a request signed by SignHeaders: the HMAC over the sent JSON, and that
// every signed header carries the signed value. It returns the signed parameters.
func VerifySignedHeaders(h http.Header, secret []byte) (map[string]string, error) {
	signed := h.Get("XroadVnpt-sign-header")
	got, err := hex.DecodeString(h.Get("XroadVnpt-hash-header"))
	if err != nil || signed == "" {
		return nil, fmt.Errorf("missing or malformed signature headers")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signed))
	if !hmac.Equal(got, mac.Sum(nil)) {
		return nil, fmt.Errorf("HMAC does not match")
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(signed), &m); err != nil {
		return nil, fmt.Errorf("sign-header is not a JSON object: %w", err)
	}
	out := map[string]string{}
	for _, k := range strings.Split(h.Get("XroadVnpt-sign-header-key"), ";") {
		v, ok := m[k]
		if !ok || h.Get(k) != v {
			return nil, fmt.Errorf("header %s differs from what was signed", k)
		}
		out[strings.TrimPrefix(k, "XroadVnpt-")] = v
	}
	return out, nil
}

type nationalResponse struct {
	Status    string          `json:"status"`
	ErrorCode json.RawMessage `json:"ErrorCode"`
	ErrorDesc string          `json:"ErrorDesc"`
	DocID     string          `json:"DocId"`
	Data      json.RawMessage `json:"data"`
}

func (n *National) call(ctx context.Context, op string, params map[string]string, names []string, body []byte) (*nationalResponse, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(n.Endpoint, "/")+"/"+op, bytes.NewReader(body))
	if err != nil {
		return nil, nil, &Error{Op: op, Message: "bad request", Err: err}
	}
	params["systemid"] = n.SystemID
	params["timestamp"] = NationalTimestamp(n.now())
	names = append([]string{"systemid", "timestamp"}, names...)
	SignHeaders(req.Header, n.Secret, names, params) // built per request: the SDK's header build-up is a bug
	if body != nil {
		req.Header.Set("Content-Type", "application/xml")
	}
	client := n.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, netError(op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxPacket*2))
	if err != nil {
		return nil, nil, netError(op, err)
	}
	if resp.StatusCode >= 300 {
		return nil, b, httpError(op, resp, "", strings.TrimSpace(string(b[:min(len(b), 200)])), n.now())
	}
	var r nationalResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, b, &Error{Op: op, Message: "unreadable answer", Temporary: true, Err: err}
	}
	code := strings.Trim(string(r.ErrorCode), `"`)
	if !strings.EqualFold(r.Status, "OK") || (code != "" && code != "0" && code != "null") {
		return nil, b, &Error{Op: op, Status: resp.StatusCode, Code: code, Message: r.ErrorDesc}
	}
	return &r, b, nil
}

// Send is sendEdoc.
func (n *National) Send(ctx context.Context, out Outgoing) (Receipt, error) {
	if err := checkOutgoing(out); err != nil {
		return Receipt{}, err
	}
	to, _ := json.Marshal(out.To)
	params := map[string]string{"from": out.From, "servicetype": n.serviceType(), "messagetype": string(out.Kind),
		"to": string(to), "hash-file": HashFile(out.Body, n.HashCompat), "messageid": out.MessageID}
	r, raw, err := n.call(ctx, "sendEdoc", params, []string{"from", "servicetype", "messagetype", "to", "hash-file", "messageid"}, out.Body)
	if err != nil {
		return Receipt{}, err
	}
	if r.DocID == "" {
		return Receipt{}, &Error{Op: "sendEdoc", Message: "no DocId in the answer", Temporary: true}
	}
	return Receipt{ID: r.DocID, At: n.now(), Raw: raw}, nil
}

func (n *National) serviceType() string {
	if n.ServiceType != "" {
		return n.ServiceType
	}
	return "eDoc"
}

// List is getReceivedEdocList.
func (n *National) List(ctx context.Context, kind edxml.Kind, limit int) ([]Item, error) {
	params := map[string]string{"servicetype": n.serviceType(), "messagetype": string(kind)}
	r, _, err := n.call(ctx, "getReceivedEdocList", params, []string{"servicetype", "messagetype"}, nil)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		DocID  string `json:"docId"`
		From   string `json:"from"`
		To     string `json:"to"`
		Status string `json:"status"`
	}
	if len(r.Data) > 0 && string(r.Data) != "null" {
		if err := json.Unmarshal(r.Data, &rows); err != nil {
			return nil, &Error{Op: "getReceivedEdocList", Message: "unreadable list", Temporary: true, Err: err}
		}
	}
	items := make([]Item, 0, len(rows))
	for _, row := range rows {
		if limit > 0 && len(items) >= limit {
			break
		}
		items = append(items, Item{ID: row.DocID, From: row.From, To: row.To, Kind: kind})
	}
	return items, nil
}

// Fetch is getEdoc: the packet comes back base64-encoded in "data" (a string, or an object with
// "content").
func (n *National) Fetch(ctx context.Context, id string) ([]byte, error) {
	r, _, err := n.call(ctx, "getEdoc", map[string]string{"docId": id}, []string{"docId"}, nil)
	if err != nil {
		return nil, err
	}
	var s string
	if err := json.Unmarshal(r.Data, &s); err != nil {
		var obj struct {
			Content string `json:"content"`
		}
		if err := json.Unmarshal(r.Data, &obj); err != nil {
			return nil, &Error{Op: "getEdoc", Message: "no packet in the answer", Err: err}
		}
		s = obj.Content
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, &Error{Op: "getEdoc", Message: "packet is not base64", Err: err}
	}
	return b, nil
}

// Ack is updateStatus done|fail.
func (n *National) Ack(ctx context.Context, id string, ok bool, reason string) error {
	st := "done"
	if !ok {
		st = "fail"
	}
	_, _, err := n.call(ctx, "updateStatus", map[string]string{"docid": id, "status": st}, []string{"docid", "status"}, nil)
	return err
}
