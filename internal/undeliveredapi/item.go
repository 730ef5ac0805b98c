package undeliveredapi

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// maxReasonRunes bounds Item.Reason.
const maxReasonRunes = 120

// Item is one undelivered event in a list, a sample or a Detail: its
// identity, when it was dead-lettered and what its failure record says. It
// holds no part of the request (its URL may carry a token): Detail does.
// The failure record's fields are zero when the message has none that
// decodes.
type Item struct {
	// EventID, OrgID and Source are from the message's subject.
	EventID string `json:"event_id"`
	OrgID   string `json:"org_id"`
	Source  string `json:"source"`
	// EventType is such as "find_email" or "outgoing_webhook.completed".
	EventType string `json:"event_type"`
	// Host is the destination host (no path or query).
	Host string `json:"host"`
	// DeadLetteredAt is when the event entered the undelivered stream (UTC).
	DeadLetteredAt time.Time `json:"dead_lettered_at"`
	// Attempts is how many attempts the failed round made.
	Attempts int `json:"attempts"`
	// StatusCode is the last attempt's HTTP status; 0 when no response came.
	StatusCode int `json:"status_code"`
	// Error describes the last failure, in full.
	Error string `json:"error"`
	// Reason is Error on one line, cut to 120 characters, for tables.
	Reason string `json:"reason"`
	// Replayed is true when the failed round was itself a replay.
	Replayed bool `json:"replayed"`
	// Replay is the failed round's replay counter (0 for the original
	// delivery); the next replay is Replay + 1.
	Replay int `json:"replay"`
}

// ItemOf returns the Item of e.
func ItemOf(e undelivered.Entry) Item {
	it := Item{EventID: e.EventID(), OrgID: e.OrgID(), Source: e.Source(), DeadLetteredAt: e.StoredAt, Replayed: e.Replayed}
	if f := e.Failure; f != nil {
		it.EventType, it.Host, it.Attempts, it.StatusCode = f.EventType, f.Host, f.Attempts, f.StatusCode
		it.Error, it.Reason, it.Replay = f.Error, oneLine(f.Error, maxReasonRunes), f.Replay
	}
	return it
}

// Detail is one undelivered event with its request and failure record.
type Detail struct {
	Item
	// Request is the delivery request exactly as it was published: JSON
	// when it is valid JSON, else a string (replay would refuse it).
	Request any `json:"request"`
	// Failure is the whole failure record; null when the message has none
	// that decodes.
	Failure *envelope.Outcome `json:"failure"`
}

// DetailOf returns the Detail of e, which must have been read with its
// request (undelivered.List, All or Show).
func DetailOf(e undelivered.Entry) Detail {
	d := Detail{Item: ItemOf(e), Failure: e.Failure}
	if json.Valid(e.Request) {
		d.Request = json.RawMessage(e.Request)
	} else {
		d.Request = strings.ToValidUTF8(string(e.Request), "\uFFFD")
	}
	return d
}

// itemsOf returns the Items of entries; never nil, so that it encodes as [].
func itemsOf(entries []undelivered.Entry) []Item {
	items := make([]Item, len(entries))
	for i := range entries {
		items[i] = ItemOf(entries[i])
	}
	return items
}

// oneLine flattens s and cuts it to at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
