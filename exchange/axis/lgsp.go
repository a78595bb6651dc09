package axis

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lienthong/lienthong/exchange/edxml"
)

// LGSP is the adapter for a provincial integration platform (WSO2-style): an OAuth2 client-credentials
// Bearer token plus a per-unit secret, and a REST resource of documents ("vanbans"):
//
//	POST {Base}/vanbans          {"from","to":[...],"messagetype","messageid","content":base64} → {"docId"}
//	GET  {Base}/vanbans?status=INITIAL&messagetype=edoc&to={unit} → [{"docId","from","to","messagetype"}]
//	GET  {Base}/vanbans/{docId}  → {"docId","content":base64}
//	PUT  {Base}/vanbans/{docId}  {"status":"DONE"|"FAIL","reason"}
type LGSP struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Base         string // e.g. https://lgsp.example/truclienthong/v1.0.0
	Unit         string // our organisation code
	UnitSecret   string
	Client       *http.Client
	Now          func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

func (l *LGSP) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *LGSP) client() *http.Client {
	if l.Client != nil {
		return l.Client
	}
	return http.DefaultClient
}

// bearer returns a valid access token, fetching one when none is cached or it is about to expire.
func (l *LGSP) bearer(ctx context.Context, renew bool) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !renew && l.token != "" && l.now().Before(l.expires) {
		return l.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", &Error{Op: "token", Message: "bad request", Err: err}
	}
	req.SetBasicAuth(url.QueryEscape(l.ClientID), url.QueryEscape(l.ClientSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := l.client().Do(req)
	if err != nil {
		return "", netError("token", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		e := httpError("token", resp, "", "token endpoint refused the client credentials", l.now())
		e.Temporary = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		return "", e
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
		return "", &Error{Op: "token", Message: "no access_token in the answer", Temporary: true, Err: err}
	}
	l.token = tok.AccessToken
	life := time.Duration(tok.ExpiresIn) * time.Second
	if life <= 0 {
		life = 5 * time.Minute
	}
	l.expires = l.now().Add(life - life/10)
	return l.token, nil
}

func (l *LGSP) do(ctx context.Context, op, method, path string, body any) ([]byte, error) {
	var payload []byte
	if body != nil {
		payload, _ = json.Marshal(body)
	}
	for attempt := 0; ; attempt++ {
		tok, err := l.bearer(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		var rd io.Reader
		if payload != nil {
			rd = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(l.Base, "/")+path, rd)
		if err != nil {
			return nil, &Error{Op: op, Message: "bad request", Err: err}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Unit-Code", l.Unit)
		req.Header.Set("X-Unit-Secret", l.UnitSecret)
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := l.client().Do(req)
		if err != nil {
			return nil, netError(op, err)
		}
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxPacket*2))
		resp.Body.Close()
		if rerr != nil {
			return nil, netError(op, rerr)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			continue // token revoked or expired early: fetch a new one once
		}
		if resp.StatusCode >= 300 {
			return nil, httpError(op, resp, "", strings.TrimSpace(string(b[:min(len(b), 200)])), l.now())
		}
		return b, nil
	}
}

// Send posts a packet.
func (l *LGSP) Send(ctx context.Context, out Outgoing) (Receipt, error) {
	if err := checkOutgoing(out); err != nil {
		return Receipt{}, err
	}
	b, err := l.do(ctx, "send", http.MethodPost, "/vanbans", map[string]any{"from": out.From, "to": out.To,
		"messagetype": out.Kind, "messageid": out.MessageID, "content": base64.StdEncoding.EncodeToString(out.Body),
		"hash": HashFile(out.Body, false)})
	if err != nil {
		return Receipt{}, err
	}
	var r struct {
		DocID string `json:"docId"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.DocID == "" {
		return Receipt{}, &Error{Op: "send", Message: "no docId in the answer", Temporary: true, Err: err}
	}
	return Receipt{ID: r.DocID, At: l.now(), Raw: b}, nil
}

// List returns packets waiting for our unit.
func (l *LGSP) List(ctx context.Context, kind edxml.Kind, limit int) ([]Item, error) {
	q := url.Values{"status": {"INITIAL"}, "to": {l.Unit}}
	if kind != "" {
		q.Set("messagetype", string(kind))
	}
	b, err := l.do(ctx, "list", http.MethodGet, "/vanbans?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		DocID       string `json:"docId"`
		From        string `json:"from"`
		To          string `json:"to"`
		MessageType string `json:"messagetype"`
	}
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, &Error{Op: "list", Message: "unreadable list", Temporary: true, Err: err}
	}
	items := make([]Item, 0, len(rows))
	for _, r := range rows {
		if limit > 0 && len(items) >= limit {
			break
		}
		items = append(items, Item{ID: r.DocID, From: r.From, To: r.To, Kind: edxml.Kind(r.MessageType)})
	}
	return items, nil
}

// Fetch returns a packet.
func (l *LGSP) Fetch(ctx context.Context, id string) ([]byte, error) {
	b, err := l.do(ctx, "fetch", http.MethodGet, "/vanbans/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, err
	}
	var r struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, &Error{Op: "fetch", Message: "unreadable answer", Temporary: true, Err: err}
	}
	raw, err := base64.StdEncoding.DecodeString(r.Content)
	if err != nil {
		return nil, &Error{Op: "fetch", Message: "content is not base64", Err: err}
	}
	return raw, nil
}

// Ack sets DONE or FAIL.
func (l *LGSP) Ack(ctx context.Context, id string, ok bool, reason string) error {
	st := "DONE"
	if !ok {
		st = "FAIL"
	}
	_, err := l.do(ctx, "ack", http.MethodPut, "/vanbans/"+url.PathEscape(id), map[string]string{"status": st, "reason": reason})
	return err
}
