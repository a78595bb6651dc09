package edxml

import (
	"errors"
	"fmt"
)

// Status codes of QCVN 102 status packets. Codes 07-12 and 14 are undocumented; StatusCode stays an
// open string and unknown codes are reported as warnings, not errors.
const (
	StatusReceived       = "01" // arrived; no clerk action yet (recipient)
	StatusRejected       = "02" // returned: wrong addressee, bad signature... (recipient)
	StatusRegistered     = "03" // entered in the incoming register (recipient)
	StatusAssigned       = "04" // assigned to a handler (recipient)
	StatusProcessing     = "05" // being handled (recipient)
	StatusDone           = "06" // completed (recipient)
	StatusRecallRequest  = "13" // the sender asks to take the document back, with a reason
	StatusRecallAccepted = "15" // the recipient accepts the recall (or update)
	StatusRecallRefused  = "16" // the recipient refuses the recall (or update)
)

// StatusNames gives each known code a short English name.
var StatusNames = map[string]string{
	StatusReceived: "received", StatusRejected: "rejected", StatusRegistered: "registered",
	StatusAssigned: "assigned", StatusProcessing: "processing", StatusDone: "done",
	StatusRecallRequest: "recall_requested", StatusRecallAccepted: "recall_accepted", StatusRecallRefused: "recall_refused",
}

// KnownStatus reports whether code is one of the documented status codes.
func KnownStatus(code string) bool { _, ok := StatusNames[code]; return ok }

// rank orders the progress codes; a status of lower rank arriving late is stale, not an error.
var rank = map[string]int{"": 0, StatusReceived: 1, StatusRegistered: 2, StatusAssigned: 3, StatusProcessing: 4, StatusDone: 5}

// State is where one (document, recipient) pair stands: its progress (the last of 01-06 applied) and its
// recall ("" none, 13 pending, 15 recalled, 16 refused).
type State struct {
	Progress string `json:"progress"`
	Recall   string `json:"recall"`
}

// Errors of the state machine.
var (
	ErrTransition = errors.New("status not allowed in this state")
	ErrUnknown    = errors.New("unknown status code")
)

// Apply returns the state after code. changed is false when the status is a repeat or arrives after a
// later one (statuses may cross on the axis); neither is an error. Rules: progress only moves forward
// (01 → 03 → 04 → 05 → 06, skips allowed); 02 (rejection) only before registration and ends the pair;
// 13 asks for a recall at any point except after a rejection or an accepted recall; 15 and 16 answer a
// pending 13 only; 15 ends the pair.
func (s State) Apply(code string) (next State, changed bool, err error) {
	if s.Recall == StatusRecallAccepted {
		if code == StatusRecallAccepted {
			return s, false, nil
		}
		return s, false, fmt.Errorf("%w: %s after the document was recalled", ErrTransition, code)
	}
	switch code {
	case StatusReceived, StatusRegistered, StatusAssigned, StatusProcessing, StatusDone:
		if s.Progress == StatusRejected {
			return s, false, fmt.Errorf("%w: %s after a rejection", ErrTransition, code)
		}
		if rank[code] <= rank[s.Progress] {
			return s, false, nil
		}
		s.Progress = code
		return s, true, nil
	case StatusRejected:
		switch s.Progress {
		case StatusRejected:
			return s, false, nil
		case "", StatusReceived:
			s.Progress = StatusRejected
			return s, true, nil
		}
		return s, false, fmt.Errorf("%w: rejection after status %s", ErrTransition, s.Progress)
	case StatusRecallRequest:
		if s.Progress == StatusRejected {
			return s, false, fmt.Errorf("%w: recall of a rejected document", ErrTransition)
		}
		if s.Recall == StatusRecallRequest {
			return s, false, nil
		}
		s.Recall = StatusRecallRequest
		return s, true, nil
	case StatusRecallAccepted, StatusRecallRefused:
		if s.Recall == code {
			return s, false, nil
		}
		if s.Recall != StatusRecallRequest {
			return s, false, fmt.Errorf("%w: %s without a pending recall request", ErrTransition, code)
		}
		s.Recall = code
		return s, true, nil
	}
	return s, false, fmt.Errorf("%w: %q", ErrUnknown, code)
}

// Final reports whether nothing more can happen to the pair.
func (s State) Final() bool {
	return s.Recall == StatusRecallAccepted || s.Progress == StatusRejected ||
		(s.Progress == StatusDone && s.Recall != StatusRecallRequest)
}
