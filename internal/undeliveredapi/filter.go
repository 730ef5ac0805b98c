package undeliveredapi

import (
	"maps"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/undelivered"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// Limits of the API's input.
const (
	// DefaultLimit is how many events the list returns without limit.
	DefaultLimit = 100
	// MaxLimit is the largest limit the list accepts.
	MaxLimit = 500
	// MaxEventIDs is the most event ids a replay or purge body may list.
	MaxEventIDs = 10000
	// MaxBodyBytes is the largest request body read, in bytes.
	MaxBodyBytes = 1 << 20
	// maxMatchLength bounds event_type and host, in bytes.
	maxMatchLength = 256
)

// Messages of the field errors, shared by the query and the bodies.
const (
	msgID     = "must match [A-Za-z0-9_-]{1,64}"
	msgSource = "must be job or workflow"
	msgTime   = "must be an RFC 3339 time, such as 2026-12-06T10:00:00Z"
)

// ParseFilter reads the filter parameters of a query string: org_id,
// source (job or workflow), event_type, host, since and until (RFC 3339,
// inclusive). A parameter not given, or given empty, leaves its side of
// the filter open. Every problem is collected, one entry per parameter
// named by it: a parameter given twice, an invalid value, until before
// since, and any parameter that is neither a filter parameter nor one of
// extra (the caller's own, such as "limit", which it reads itself). The
// filter is meaningful only when there is no problem.
//
// ParseFilter does not scope the filter: pass it through ScopeFilter with
// the request's principal before reading.
func ParseFilter(values url.Values, extra ...string) (undelivered.Filter, []envelope.FieldError) {
	var p problems
	for _, name := range slices.Sorted(maps.Keys(values)) {
		if !isFilterParam(name) && !slices.Contains(extra, name) {
			p.add(name, "unknown parameter")
		}
	}
	c := criteria{
		OrgID: one(values, "org_id", &p), Source: one(values, "source", &p),
		EventType: one(values, "event_type", &p), Host: one(values, "host", &p),
		Since: one(values, "since", &p), Until: one(values, "until", &p),
	}
	f := c.filter(&p)
	return f, p
}

// ScopeFilter returns f limited to what p may read, by p.OrgFilter: an
// organization token's filter is forced to its organization, an
// operator's is unchanged. ok is false when f names an organization p may
// not read: answer as if nothing matched (404), never 403.
func ScopeFilter(p apitoken.Principal, f undelivered.Filter) (undelivered.Filter, bool) {
	org, ok := p.OrgFilter(f.OrgID)
	if !ok {
		return undelivered.Filter{}, false
	}
	f.OrgID = org
	return f, true
}

// isFilterParam reports whether name is a parameter ParseFilter reads.
func isFilterParam(name string) bool {
	switch name {
	case "org_id", "source", "event_type", "host", "since", "until":
		return true
	}
	return false
}

// criteria are a selection as the client wrote it, in the query or a body.
type criteria struct {
	OrgID, Source, EventType, Host, Since, Until string
	EventIDs                                     []string
}

// filter checks c and returns its filter; each problem is added to p,
// named by its JSON member or parameter.
func (c criteria) filter(p *problems) undelivered.Filter {
	f := undelivered.Filter{OrgID: c.OrgID, Source: c.Source, EventType: c.EventType, Host: c.Host}
	if c.OrgID != "" && !envelope.ValidOrgID(c.OrgID) {
		p.add("org_id", msgID)
	}
	if c.Source != "" && c.Source != string(envelope.SourceJob) && c.Source != string(envelope.SourceWorkflow) {
		p.add("source", msgSource)
	}
	if len(c.EventType) > maxMatchLength {
		p.add("event_type", "must be at most "+strconv.Itoa(maxMatchLength)+" bytes")
	}
	if len(c.Host) > maxMatchLength {
		p.add("host", "must be at most "+strconv.Itoa(maxMatchLength)+" bytes")
	}
	f.Since = parseTime(c.Since, "since", p)
	f.Until = parseTime(c.Until, "until", p)
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		p.add("until", "must not be before since")
	}
	if len(c.EventIDs) > MaxEventIDs {
		p.add("event_ids", "must list at most "+strconv.Itoa(MaxEventIDs)+" event ids")
		return f
	}
	for i, id := range c.EventIDs {
		if !envelope.ValidOrgID(id) {
			p.add("event_ids."+strconv.Itoa(i), msgID)
		}
	}
	f.EventIDs = c.EventIDs
	return f
}

// selectsEverything reports whether f selects every event of every
// organization: the selection that needs "all": true.
func selectsEverything(f undelivered.Filter) bool {
	return f.OrgID == "" && f.Source == "" && f.EventType == "" && f.Host == "" &&
		len(f.EventIDs) == 0 && f.Since.IsZero() && f.Until.IsZero()
}

// problems collects field errors.
type problems []envelope.FieldError

func (p *problems) add(field, message string) {
	*p = append(*p, envelope.FieldError{Field: field, Message: message})
}

// one returns the parameter's value; a parameter given twice is a problem.
func one(values url.Values, name string, p *problems) string {
	v := values[name]
	if len(v) > 1 {
		p.add(name, "given more than once")
	}
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// onlyParams adds a problem for each parameter of values not in allowed.
func onlyParams(values url.Values, p *problems, allowed ...string) {
	for _, name := range slices.Sorted(maps.Keys(values)) {
		if !slices.Contains(allowed, name) {
			p.add(name, "unknown parameter")
		}
	}
}

// parseTime reads an RFC 3339 time; "" is the zero time.
func parseTime(v, field string, p *problems) time.Time {
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		p.add(field, msgTime)
	}
	return t
}

// parseLimit reads the list's limit parameter: 1..MaxLimit, DefaultLimit
// when absent.
func parseLimit(values url.Values, p *problems) int {
	v := one(values, "limit", p)
	if v == "" {
		return DefaultLimit
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxLimit {
		p.add("limit", "must be a whole number between 1 and "+strconv.Itoa(MaxLimit))
		return DefaultLimit
	}
	return n
}
