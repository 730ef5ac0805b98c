package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// largeBody is the size above which a request body is shown collapsed.
const largeBody = 4 << 10

// eventData is the event page.
type eventData struct {
	EventID string
	OrgID   string
	Rounds  []roundView
	// Undelivered is set when the event is in the undelivered stream.
	Undelivered *undeliveredRef
}

// undeliveredRef links an event to its undelivered message.
type undeliveredRef struct {
	EventID   string
	CanReplay bool
}

// roundView is one delivery round as the page shows it.
type roundView struct {
	logstore.Round
	// AttemptRows are the round's attempts (Round.Attempts is their count).
	AttemptRows []attemptView
	// Body is the request body of the round's first attempt, indented
	// when it is JSON; Large collapses it.
	Body          string
	HasBody       bool
	Large         bool
	BodyTruncated bool
	// Block is set for workflow rounds with block columns.
	Block *blockView
}

// blockView holds a workflow round's block columns.
type blockView struct {
	StatusCode string
	Response   string
	Success    string
}

// attemptView is one attempt with its headers in name order. Number is
// its attempt number: in a template, .Attempt names the embedded struct.
type attemptView struct {
	logstore.Attempt
	Number  int
	Headers []header
}

// header is one request header as sent.
type header struct{ Name, Value string }

// event shows one event's timeline: every round and its attempts. An
// event of another organization is the same 404 as a missing one.
func (c *console) event(w http.ResponseWriter, r *http.Request, v *viewer) {
	var fe formErrors
	vals := readParams(r.URL.Query(), []string{"org"}, &fe)
	id := r.PathValue("event_id")
	org, ok := v.P.OrgFilter(vals["org"])
	if !ok || !envelope.ValidOrgID(id) || !fe.Empty() || (org != "" && !envelope.ValidOrgID(org)) {
		c.notFound(w, r, v)
		return
	}
	tl, err := c.cfg.Log.Timeline(r.Context(), org, id)
	switch {
	case errors.Is(err, logstore.ErrNotFound):
		c.notFound(w, r, v)
		return
	case err != nil:
		c.unavailable(w, r, v, "delivery log", err)
		return
	}
	if !v.P.Sees(tl.OrgID) {
		c.notFound(w, r, v)
		return
	}
	data := eventData{EventID: tl.EventID, OrgID: tl.OrgID}
	for _, rd := range tl.Rounds {
		data.Rounds = append(data.Rounds, newRoundView(rd))
	}
	entries, err := undelivered.List(r.Context(), c.cfg.JS, c.cfg.Streams,
		undelivered.Filter{OrgID: tl.OrgID, EventIDs: []string{tl.EventID}}, 1)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case err != nil:
		c.log.Warn().Err(err).Str("event_id", id).Msg("console: cannot read the undelivered stream")
	case len(entries) == 1:
		data.Undelivered = &undeliveredRef{EventID: tl.EventID, CanReplay: v.P.MayReplay(tl.OrgID)}
	}
	c.render(w, r, v, http.StatusOK, "event", "Event "+tl.EventID, data)
}

// newRoundView prepares a round: headers sorted, the body indented.
func newRoundView(rd logstore.Round) roundView {
	rv := roundView{Round: rd}
	for _, a := range rd.AttemptList {
		av := attemptView{Attempt: a, Number: a.Attempt}
		for name, value := range a.RequestHeaders {
			av.Headers = append(av.Headers, header{Name: name, Value: value})
		}
		slices.SortFunc(av.Headers, func(x, y header) int { return strings.Compare(x.Name, y.Name) })
		rv.AttemptRows = append(rv.AttemptRows, av)
		if a.Attempt == 1 && a.RequestBody != "" {
			rv.Body, rv.HasBody, rv.BodyTruncated = prettyJSON(a.RequestBody), true, a.RequestBodyTruncated
			rv.Large = len(rv.Body) > largeBody
		}
	}
	if rd.WebhookStatusCode != nil || rd.WebhookResponse != nil || rd.WebhookSuccess != nil {
		b := &blockView{StatusCode: "–", Response: "–", Success: "–"}
		if rd.WebhookStatusCode != nil {
			b.StatusCode = strconv.Itoa(*rd.WebhookStatusCode)
		}
		if rd.WebhookResponse != nil {
			b.Response = *rd.WebhookResponse
		}
		if rd.WebhookSuccess != nil {
			b.Success = boolWord(*rd.WebhookSuccess)
		}
		rv.Block = b
	}
	return rv
}

// prettyJSON indents body when it is valid JSON, else returns it as is.
func prettyJSON(body string) string {
	if !json.Valid([]byte(body)) {
		return body
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(body), "", "  "); err != nil {
		return body
	}
	return buf.String()
}

// boolWord is "yes" or "no".
func boolWord(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
