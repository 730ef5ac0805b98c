package undelivered

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// ErrInvalidFilter wraps every Filter validation error. Nothing is read or
// changed when it is returned.
var ErrInvalidFilter = errors.New("undelivered: invalid filter")

// maxFilterSubjects is the most event ids turned into server-side filter
// subjects; a longer list is matched client-side over the org/source filter.
const maxFilterSubjects = 256

// Filter selects undelivered events. Every field is optional and the set
// fields are ANDed; the zero Filter selects everything.
type Filter struct {
	// OrgID selects one organization (a subject token, matched server-side).
	OrgID string
	// Source selects "job" or "workflow" events (matched server-side).
	Source string
	// EventType selects one event type, such as "find_email" or
	// "outgoing_webhook.completed", from the failure record.
	EventType string
	// Host selects one destination host (case-insensitive), from the
	// failure record.
	Host string
	// EventIDs selects any of these events (an OR list, matched
	// server-side when it has at most 256 ids).
	EventIDs []string
	// Since and Until bound the time an event was dead-lettered (its
	// message timestamp on the undelivered stream), inclusive. The zero
	// time leaves that side open.
	Since, Until time.Time
}

// validate checks the filter; errors name the field.
func (f Filter) validate() error {
	if f.OrgID != "" && !envelope.ValidOrgID(f.OrgID) {
		return fmt.Errorf("%w: org id %q must match [A-Za-z0-9_-]{1,64}", ErrInvalidFilter, f.OrgID)
	}
	if f.Source != "" && !envelope.ValidOrgID(f.Source) {
		return fmt.Errorf("%w: source %q must be job or workflow", ErrInvalidFilter, f.Source)
	}
	for _, id := range f.EventIDs {
		if !envelope.ValidOrgID(id) {
			return fmt.Errorf("%w: event id %q must match [A-Za-z0-9_-]{1,64}", ErrInvalidFilter, id)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return fmt.Errorf("%w: until (%s) is before since (%s)", ErrInvalidFilter,
			f.Until.UTC().Format(time.RFC3339), f.Since.UTC().Format(time.RFC3339))
	}
	return nil
}

// subjects returns the filter subjects that narrow the stream server-side:
// one per event id when there are few, else one for org and source.
func (f Filter) subjects(sc streams.Config) []string {
	org, source := orStar(f.OrgID), orStar(f.Source)
	base := sc.SubjectPrefix + ".undelivered." + org + "." + source + "."
	ids := uniq(f.EventIDs)
	if len(ids) == 0 || len(ids) > maxFilterSubjects {
		return []string{base + "*"}
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = base + id
	}
	return out
}

// matcher is a validated Filter ready to test entries.
type matcher struct {
	Filter
	ids map[string]bool
}

// compile validates f and returns its matcher.
func (f Filter) compile() (matcher, error) {
	if err := f.validate(); err != nil {
		return matcher{}, err
	}
	m := matcher{Filter: f}
	if len(f.EventIDs) > 0 {
		m.ids = make(map[string]bool, len(f.EventIDs))
		for _, id := range f.EventIDs {
			m.ids[id] = true
		}
	}
	return m, nil
}

// match reports whether e passes every client-side condition. Conditions
// already applied server-side are checked again: it is cheap, and keeps the
// result right whatever the server-side narrowing was.
func (f matcher) match(e *Entry) bool {
	id := subjectIdentity(e.Subject)
	switch {
	case f.OrgID != "" && id.orgID != f.OrgID,
		f.Source != "" && id.source != f.Source,
		f.ids != nil && !f.ids[id.eventID],
		!f.Since.IsZero() && e.StoredAt.Before(f.Since),
		!f.Until.IsZero() && e.StoredAt.After(f.Until):
		return false
	}
	if f.EventType == "" && f.Host == "" {
		return true
	}
	if e.Failure == nil {
		return false
	}
	if f.EventType != "" && e.Failure.EventType != f.EventType {
		return false
	}
	return f.Host == "" || strings.EqualFold(e.Failure.Host, f.Host)
}

// identity is what an undelivered subject says about its event.
type identity struct{ orgID, source, eventID string }

// subjectIdentity parses <prefix>.undelivered.<org_id>.<source>.<event_id>;
// the fields are empty when the subject has another shape.
func subjectIdentity(subject string) identity {
	t := strings.Split(subject, ".")
	if len(t) != 5 {
		return identity{}
	}
	return identity{orgID: t[2], source: t[3], eventID: t[4]}
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// uniq returns ids without repeats, in first-seen order.
func uniq(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
