package console

import (
	"net/url"
	"slices"
	"strings"
	"time"
)

// formErrors are the problems of a submitted form: Fields by input name,
// shown next to the input, and Other for what has no input (an unknown
// parameter), shown above the form.
type formErrors struct {
	Fields map[string]string
	Other  []string
}

// add records a problem with field; the first one per field is kept.
func (e *formErrors) add(field, message string) {
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	if _, ok := e.Fields[field]; !ok {
		e.Fields[field] = message
	}
}

// other records a problem that no input shows.
func (e *formErrors) other(message string) { e.Other = append(e.Other, message) }

// Empty reports whether there is no problem.
func (e formErrors) Empty() bool { return len(e.Fields) == 0 && len(e.Other) == 0 }

// readParams returns the form's values by name, trimmed; an empty value
// is as if the field were absent (a GET form sends its empty inputs). A
// parameter outside allowed is an unknown parameter and one given twice is
// an error on its field, as the JSON APIs answer them.
func readParams(values url.Values, allowed []string, fe *formErrors) map[string]string {
	out := make(map[string]string, len(values))
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := values[name]
		switch {
		case !slices.Contains(allowed, name):
			fe.other("unknown parameter " + quote(name))
			continue
		case len(v) > 1:
			fe.add(name, "given more than once")
		}
		if s := strings.TrimSpace(v[0]); s != "" {
			out[name] = s
		}
	}
	return out
}

// timeLayouts are the forms a time field accepts: RFC 3339, or what a
// datetime-local input sends (read as UTC).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04"}

// timeHint is the message of a time that does not parse.
const timeHint = "must be a time such as 2026-12-06T10:00 (UTC) or 2026-12-06T10:00:00Z"

// parseTime reads field from vals; "" gives the zero time.
func parseTime(vals map[string]string, field string, fe *formErrors) time.Time {
	s := vals[field]
	if s == "" {
		return time.Time{}
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	fe.add(field, timeHint)
	return time.Time{}
}

// localInput formats t for a datetime-local input (UTC, to the second);
// the zero time is "".
func localInput(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

// timeEcho is what a time input shows again: the parsed time in the
// datetime-local form. A value that did not parse is not shown again (a
// datetime-local input would refuse it); the error next to it explains.
func timeEcho(t time.Time) string { return localInput(t) }

// option is one choice of a select input.
type option struct {
	Value, Label string
	Selected     bool
}

// options returns the choices of a select whose value is current; the
// first choice is "any" (the empty value).
func options(current string, values ...string) []option {
	out := []option{{Value: "", Label: "any", Selected: current == ""}}
	for _, v := range values {
		out = append(out, option{Value: v, Label: v, Selected: v == current})
	}
	return out
}

// query encodes the non-empty values of kv (name, value, name, value…).
func query(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

// withQuery returns path with q as its query string.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// quote returns s in quotes, shortened to 64 bytes: parameter names
// come from outside.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return "“" + s + "”"
}
