package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/exchange/axis"
	"github.com/lienthong/lienthong/exchange/blobs"
	"github.com/lienthong/lienthong/exchange/edxml"
)

var (
	sqlGetPacketByMessageID       = queries.Must("GetPacketByMessageID")
	sqlInsertPacketWithDeliveries = queries.Must("InsertPacketWithDeliveries")
	sqlListPendingInbox           = queries.Must("ListPendingInbox")
	sqlGetInboxPacket             = queries.Must("GetInboxPacket")
	sqlAckDelivery                = queries.Must("AckDelivery")
	sqlAckDeliveries              = queries.Must("AckDeliveries")
	sqlListSentDeliveries         = queries.Must("ListSentDeliveries")
)

// Handler returns the hub's HTTP API.
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", h.handleMetrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := h.pool.Ping(r.Context()); err != nil {
			problem(w, http.StatusServiceUnavailable, "unavailable", "the hub database is not answering")
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("POST /v1/packets", h.auth(h.handleSend))
	mux.HandleFunc("GET /v1/inbox", h.auth(h.handleList))
	mux.HandleFunc("GET /v1/inbox/{id}", h.auth(h.handleFetch))
	mux.HandleFunc("POST /v1/inbox/{id}/ack", h.auth(h.handleAck))
	mux.HandleFunc("POST /v1/inbox/ack", h.auth(h.handleAckMany))
	mux.HandleFunc("GET /v1/sent/{id}", h.auth(h.handleSent))
	return mux
}

func problem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "code": code, "detail": detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *Hub) auth(next func(w http.ResponseWriter, r *http.Request, node string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			problem(w, http.StatusUnauthorized, "unauthenticated", "send the node token as Authorization: Bearer <token>")
			return
		}
		node, ok := h.nodeFor(strings.TrimSpace(tok))
		if !ok {
			problem(w, http.StatusUnauthorized, "unknown_token", "this token belongs to no registered node")
			return
		}
		next(w, r, node)
	}
}

func (h *Hub) dbFail(w http.ResponseWriter, r *http.Request, op string, err error) {
	h.log.ErrorContext(r.Context(), "hub database error", "op", op, "err", err)
	problem(w, http.StatusServiceUnavailable, "unavailable", "the hub could not store or read this; try again")
}

// handleMetrics serves the hub's counts in the Prometheus text format (counts only, no content).
func (h *Hub) handleMetrics(w http.ResponseWriter, r *http.Request) {
	st, err := h.Stats(r.Context())
	if err != nil {
		h.dbFail(w, r, "metrics", err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	for _, m := range []struct {
		name, help string
		v          int64
	}{
		{"packets", "packets stored", st.Packets},
		{"deliveries", "inbox entries (one per packet and recipient)", st.Deliveries},
		{"pending", "inbox entries not yet acknowledged", st.Pending},
		{"edoc_deliveries", "inbox entries of document packets", st.Edocs},
		{"duplicate_deliveries", "recipients holding one (sender, message id) twice; must stay 0", st.Duplicates},
	} {
		fmt.Fprintf(w, "# HELP lienthong_axis_%s %s.\n# TYPE lienthong_axis_%s gauge\nlienthong_axis_%s %d\n", m.name, m.help, m.name, m.name, m.v)
	}
	for _, m := range []struct {
		name, help string
		v          int64
	}{
		{"purged_packets_total", "acknowledged packets removed by the retention", h.purgedPackets.Load()},
		{"purged_segments_total", "segment files removed by the retention", h.purgedSegments.Load()},
	} {
		fmt.Fprintf(w, "# HELP lienthong_axis_%s %s.\n# TYPE lienthong_axis_%s counter\nlienthong_axis_%s %d\n", m.name, m.help, m.name, m.name, m.v)
	}
}

func (h *Hub) handleSend(w http.ResponseWriter, r *http.Request, node string) {
	msgID := strings.TrimSpace(r.Header.Get("X-Message-Id"))
	if msgID == "" || len(msgID) > 200 {
		problem(w, http.StatusBadRequest, "message_id_required", "X-Message-Id (1-200 characters) is required: it makes a retry safe")
		return
	}
	// The body is only read here (the packet store and pgx copy what they keep), so its buffer is
	// reused for the next push: a fresh 160 KB buffer per push cost more in page faults than the copy.
	bp := bodyBuffers.Get().(*[]byte)
	body, err := axis.AppendBody(*bp, r.Body, r.ContentLength, axis.MaxPacket)
	defer func() {
		if cap(body) <= maxPooledBody {
			*bp = body[:0]
			bodyBuffers.Put(bp)
		}
	}()
	if err != nil {
		problem(w, http.StatusBadRequest, "unreadable_body", "the packet could not be read")
		return
	}
	if len(body) > axis.MaxPacket {
		problem(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("packets are limited to %d bytes", axis.MaxPacket))
		return
	}
	p, err := edxml.ParseHeader(body)
	if err != nil {
		problem(w, http.StatusUnprocessableEntity, "invalid_packet", err.Error())
		return
	}
	now := h.now()
	from := axis.NormaliseCode(p.Header.From.OrganID)
	if !h.dir.Same(from, node, now) {
		problem(w, http.StatusForbidden, "sender_mismatch", fmt.Sprintf("the packet is from %q but this token belongs to %q", from, node))
		return
	}
	var to []string
	if x := r.Header.Get("X-To"); x != "" {
		for _, c := range strings.Split(x, ",") {
			if c = strings.TrimSpace(c); c != "" {
				to = append(to, c)
			}
		}
	} else if p.Kind == edxml.KindStatus {
		for _, rf := range p.Header.ResponseFor {
			to = append(to, rf.OrganID)
		}
	} else {
		for _, t := range p.Header.To {
			to = append(to, t.OrganID)
		}
	}
	if len(to) == 0 {
		problem(w, http.StatusUnprocessableEntity, "no_recipient", "the packet names no recipient")
		return
	}
	seen := map[string]bool{}
	var recipients []string
	for _, c := range to {
		rc := h.dir.Resolve(c, now)
		if !h.isNode(rc) {
			problem(w, http.StatusUnprocessableEntity, "unknown_recipient", fmt.Sprintf("no node is registered for recipient %q", c))
			return
		}
		if !seen[rc] {
			seen[rc] = true
			recipients = append(recipients, rc)
		}
	}
	sum := sha256.Sum256(body)
	if want := r.Header.Get("X-Sha256"); want != "" && !strings.EqualFold(want, hex.EncodeToString(sum[:])) {
		problem(w, http.StatusUnprocessableEntity, "digest_mismatch", "the packet does not match the digest its sender declared (X-Sha256): it was damaged before or on the way")
		return
	}
	var res axis.SendResult
	var ids []string
	dup := false
	var id string
	var at time.Time
	var prev []byte
	duplicate := func() {
		if !bytes.Equal(prev, sum[:]) {
			err = errConflict
		}
		dup = true
		res = axis.SendResult{ID: id, AcceptedAt: at, Duplicate: true, SHA256: hex.EncodeToString(sum[:])}
	}
	stored, ref := body, (*string)(nil)
	known := false
	if h.blob != nil && len(body) >= blobs.Inline {
		// A retried push (a lost answer, a flaky network) is answered from its row before its bytes are
		// appended to the store a second time: segments are never compacted. Only pushes marked as
		// retries pay for the lookup; a first push that repeats one leaves unreferenced bytes.
		err = pgx.ErrNoRows
		if r.Header.Get("X-Retry") != "" {
			err = h.pool.QueryRow(r.Context(), sqlGetPacketByMessageID, node, msgID).Scan(&id, &at, &prev)
		}
		switch {
		case err == nil:
			known = true
			duplicate()
		case errors.Is(err, pgx.ErrNoRows):
			rf, perr := h.blob.PutDigest(body, sum[:])
			if perr != nil {
				h.dbFail(w, r, "send", perr)
				return
			}
			s := string(rf)
			stored, ref, err = nil, &s, nil
		default:
			h.dbFail(w, r, "send", err)
			return
		}
	}
	if !known {
		var rcpts, dids []string
		err = h.pool.QueryRow(r.Context(), sqlInsertPacketWithDeliveries,
			node, from, msgID, string(p.Kind), sum[:], len(body), stored, ref, now, recipients).Scan(&id, &at, &rcpts, &dids)
		switch {
		case errors.Is(err, pgx.ErrNoRows): // the (sender, message id) was there already
			err = h.pool.QueryRow(r.Context(), sqlGetPacketByMessageID, node, msgID).Scan(&id, &at, &prev)
			if err == nil {
				duplicate()
			}
		case err == nil:
			for i := range min(len(rcpts), len(dids)) {
				ids = append(ids, rcpts[i], dids[i])
			}
			res = axis.SendResult{ID: id, AcceptedAt: at, SHA256: hex.EncodeToString(sum[:])}
		}
	}
	if errors.Is(err, errConflict) {
		problem(w, http.StatusConflict, "message_id_reused", "this message id was already used for a different packet")
		return
	}
	if err != nil {
		h.dbFail(w, r, "send", err)
		return
	}
	status := http.StatusCreated
	if dup {
		status = http.StatusOK
	} else {
		h.log.Info("packet accepted", "id", res.ID, "from", node, "kind", p.Kind, "recipients", recipients, "message_id", msgID)
		for i := 0; i+1 < len(ids); i += 2 {
			h.mu.RLock()
			u := h.push[ids[i]]
			h.mu.RUnlock()
			if u != "" {
				select {
				case h.notify <- pushNote{url: u, id: ids[i+1]}:
				default: // the recipient's periodic pull will find it
				}
			}
		}
	}
	writeJSON(w, status, res)
}

var bodyBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBody: larger bodies are left to the garbage collector rather than kept in the pool.
const maxPooledBody = 4 << 20

var errConflict = errors.New("message id reused with different content")

func (h *Hub) handleList(w http.ResponseWriter, r *http.Request, node string) {
	kind := r.URL.Query().Get("kind")
	if kind != "" && kind != string(edxml.KindEdoc) && kind != string(edxml.KindStatus) {
		problem(w, http.StatusBadRequest, "bad_kind", "kind is edoc or status")
		return
	}
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			problem(w, http.StatusBadRequest, "bad_limit", "limit is 1-1000")
			return
		}
		limit = n
	}
	inline := 0 // include packets up to this size (kept in the database) in the listing
	if v := r.URL.Query().Get("inline"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 64<<10 {
			problem(w, http.StatusBadRequest, "bad_inline", "inline is 0-65536 (bytes)")
			return
		}
		inline = n
	}
	rows, err := h.pool.Query(r.Context(), sqlListPendingInbox, node, kind, limit, inline)
	if err != nil {
		h.dbFail(w, r, "list", err)
		return
	}
	items := []axis.Item{}
	for rows.Next() {
		var it axis.Item
		var sum []byte
		var k string
		if err := rows.Scan(&it.ID, &it.From, &it.To, &k, &it.MessageID, &sum, &it.Size, &it.ReceivedAt, &it.Body); err != nil {
			rows.Close()
			h.dbFail(w, r, "list", err)
			return
		}
		it.Kind, it.SHA256 = edxml.Kind(k), hex.EncodeToString(sum)
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		h.dbFail(w, r, "list", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (h *Hub) handleFetch(w http.ResponseWriter, r *http.Request, node string) {
	var body []byte
	var from, kind string
	var sum []byte
	var ref *string
	err := h.pool.QueryRow(r.Context(), sqlGetInboxPacket, pathID(r), node).Scan(&body, &ref, &from, &kind, &sum)
	if errors.Is(err, pgx.ErrNoRows) {
		problem(w, http.StatusNotFound, "not_found", "no such packet in this inbox")
		return
	}
	if err != nil {
		h.dbFail(w, r, "fetch", err)
		return
	}
	var sec *blobs.Reader
	size := int64(len(body))
	if body == nil && ref != nil {
		if h.blob == nil {
			h.dbFail(w, r, "fetch", errors.New("the body is kept in a packet store but none is configured"))
			return
		}
		if sec, size, err = h.blob.Section(blobs.Ref(*ref)); err != nil {
			h.dbFail(w, r, "fetch", err)
			return
		}
		defer sec.Close()
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-From", from)
	w.Header().Set("X-Kind", kind)
	w.Header().Set("X-Sha256", hex.EncodeToString(sum))
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	if sec != nil {
		_, _ = io.Copy(w, sec) // unchecked here: the recipient compares the digest listed with the packet
		return
	}
	_, _ = w.Write(body)
}

func (h *Hub) handleAck(w http.ResponseWriter, r *http.Request, node string) {
	var in struct {
		OK     bool   `json:"ok"`
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, "bad_body", `send {"ok": true|false, "reason": "..."}`)
		return
	}
	st := "done"
	if !in.OK {
		st = "fail"
	}
	tag, err := h.pool.Exec(r.Context(), sqlAckDelivery, pathID(r), node, st, in.Reason, h.now())
	if err != nil {
		h.dbFail(w, r, "ack", err)
		return
	}
	if tag.RowsAffected() == 0 {
		problem(w, http.StatusNotFound, "not_found", "no such packet in this inbox")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleAckMany takes many transport acknowledgements in one statement; ids that are not in this node's
// inbox are skipped, and a repeated acknowledgement overwrites the first, as with the single ack.
func (h *Hub) handleAckMany(w http.ResponseWriter, r *http.Request, node string) {
	var in struct {
		Acks []axis.Ack `json:"acks"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4<<20))
	if err := dec.Decode(&in); err != nil || len(in.Acks) == 0 || len(in.Acks) > axis.MaxAcks {
		problem(w, http.StatusBadRequest, "bad_body", fmt.Sprintf(`send {"acks": [{"id", "ok", "reason"}, ...]} with 1-%d entries`, axis.MaxAcks))
		return
	}
	ids, oks, reasons := make([]string, len(in.Acks)), make([]bool, len(in.Acks)), make([]string, len(in.Acks))
	for i, a := range in.Acks {
		if !isUUID(a.ID) {
			problem(w, http.StatusBadRequest, "bad_id", fmt.Sprintf("%q is not a packet id of this hub", a.ID))
			return
		}
		ids[i], oks[i], reasons[i] = a.ID, a.OK, a.Reason
	}
	tag, err := h.pool.Exec(r.Context(), sqlAckDeliveries, node, h.now(), ids, oks, reasons)
	if err != nil {
		h.dbFail(w, r, "ack", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"acked": tag.RowsAffected()})
}

// isUUID accepts the canonical 8-4-4-4-12 hex form PostgreSQL prints for our packet ids.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'):
			return false
		}
	}
	return true
}

func (h *Hub) handleSent(w http.ResponseWriter, r *http.Request, node string) {
	rows, err := h.pool.Query(r.Context(), sqlListSentDeliveries, pathID(r), node)
	if err != nil {
		h.dbFail(w, r, "sent", err)
		return
	}
	var out []axis.SentState
	for rows.Next() {
		var s axis.SentState
		if err := rows.Scan(&s.ID, &s.To, &s.State, &s.Reason, &s.AcceptedAt, &s.AckedAt); err != nil {
			rows.Close()
			h.dbFail(w, r, "sent", err)
			return
		}
		out = append(out, s)
	}
	if rows.Err() != nil || len(out) == 0 {
		problem(w, http.StatusNotFound, "not_found", "no packet with this id was sent by this node")
		return
	}
	if len(out) == 1 {
		writeJSON(w, http.StatusOK, out[0])
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func sendPush(n pushNote, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"id": n.id})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Debug("push notification failed; the node will pull", "url", n.url, "err", err)
		return
	}
	resp.Body.Close()
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// pathID returns the {id} path value when it is a UUID (so the lookup uses the primary key), and the
// nil UUID otherwise, which matches nothing and answers 404.
func pathID(r *http.Request) string {
	if id := r.PathValue("id"); uuidRE.MatchString(id) {
		return id
	}
	return "00000000-0000-0000-0000-000000000000"
}
