// Package strictjson decodes JSON from outside the way no other parser
// can read differently: member names match exactly (no case folding),
// unknown members, duplicate names, invalid UTF-8 and data after the value
// are refused. These are the default semantics of encoding/json/v2 (the
// github.com/go-json-experiment/json module, which Go 1.27 makes the
// standard library's), plus the refusal of unknown members and of a
// top-level null where an object is expected.
//
// A refused document is an *Errors listing every problem found in one
// pass, each naming its field as a dotted path ("job.task_id") and saying
// what is wrong in terms of the JSON, never of Go types, so that a client
// can fix them all at once. The package does no I/O and keeps no state.
package strictjson

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// MaxProblems is the most problems Unmarshal lists for one document, so
// that the answer to a hostile document stays small; Errors.Truncated
// says when there were more.
const MaxProblems = 100

// options add the refusal of unknown members to v2's defaults.
var options = json.JoinOptions(json.RejectUnknownMembers(true))

// Error is one reason why data is not JSON of the expected shape.
type Error struct {
	// Field is the dotted path of the offending member or value
	// ("job.task_id", "results.0"); empty for the document as a whole.
	Field string
	// Message says what is wrong ("must be an integer, got a string",
	// "unknown field"). A syntax error's message names its byte offset.
	Message string
	// Offset is the byte offset in the input of the offending member name
	// or value, or where a syntax error was found.
	Offset int64
	// WrongType is true when the JSON is well formed and the value at
	// Field has the wrong type; false for syntax errors, unknown or
	// duplicate names, invalid UTF-8 and trailing data.
	WrongType bool
}

// Error returns "field: message", or the message alone for the document.
func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Errors is every problem Unmarshal found in one document.
type Errors struct {
	// Problems are in document order: at least one, at most MaxProblems.
	// A syntax error (data after the value included) is the only entry,
	// since nothing after it can be read reliably.
	Problems []Error
	// Truncated is true when the document has more problems than listed.
	Truncated bool
}

// Error joins the problems with "; ", ending with "; ..." when truncated.
func (e *Errors) Error() string {
	parts := make([]string, 0, len(e.Problems)+1)
	for i := range e.Problems {
		parts = append(parts, e.Problems[i].Error())
	}
	if e.Truncated {
		parts = append(parts, "...")
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns each problem as an *Error, so that errors.As with an
// *Error target finds the first one.
func (e *Errors) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i := range e.Problems {
		errs[i] = &e.Problems[i]
	}
	return errs
}

// Unmarshal decodes data into v (a non-nil pointer) strictly. It returns
// nil or an *Errors listing every problem: unknown members (naming a known
// member that differs only in case), duplicate names, invalid UTF-8 and
// every value of the wrong type; a syntax error or data after the value
// is listed alone. A top-level null is refused when v points to a struct.
// On error v may have been partly written.
//
// A well-formed document costs one decode; the problems of a refused one
// are then collected by walking it against v's type.
func Unmarshal(data []byte, v any) error {
	t := reflect.TypeOf(v)
	if t != nil && t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct &&
		string(bytes.Trim(data, " \t\r\n")) == "null" {
		return &Errors{Problems: []Error{{Message: "must be " + expected(t.Elem()) + ", got null", WrongType: true}}}
	}
	err := json.Unmarshal(data, v, options)
	if err == nil {
		return nil
	}
	if errs := diagnose(data, t); errs != nil {
		return errs
	}
	return &Errors{Problems: []Error{convert(err, nil, 0)}} // the walk missed it: v2's own first error
}

// diagnose lists the problems of data for the target type t (a pointer),
// or returns nil when it finds none.
func diagnose(data []byte, t reflect.Type) *Errors {
	var c collector
	if syn := scan(data, &c); syn != nil {
		return &Errors{Problems: []Error{*syn}}
	}
	if t != nil && t.Kind() == reflect.Pointer {
		walk(data, t.Elem(), &c)
	}
	if len(c.problems) == 0 {
		return nil
	}
	slices.SortStableFunc(c.problems, func(a, b Error) int { return cmp.Compare(a.Offset, b.Offset) })
	if len(c.problems) > MaxProblems {
		c.problems, c.truncated = c.problems[:MaxProblems], true
	}
	return &Errors{Problems: c.problems, Truncated: c.truncated}
}

// collector gathers the problems of both passes, at most MaxProblems each.
type collector struct {
	problems  []Error
	truncated bool
	counts    [2]int // problems added by the scan (0) and the walk (1)
}

// add records e for the pass (0 or 1) and reports whether that pass may go on.
func (c *collector) add(pass int, e Error) bool {
	if c.counts[pass] == MaxProblems {
		c.truncated = true
		return false
	}
	c.counts[pass]++
	c.problems = append(c.problems, e)
	return true
}

// convert describes a decoding error of a value at prefix, found at base
// in the input (v2 offsets are relative to the decoded value).
func convert(err error, prefix []string, base int64) Error {
	var (
		syn *jsontext.SyntacticError
		sem *json.SemanticError
	)
	switch {
	case errors.As(err, &syn):
		return Error{Field: join(prefix, syn.JSONPointer), Offset: base + syn.ByteOffset,
			Message: fmt.Sprintf("%v (at byte %d)", syn.Err, base+syn.ByteOffset)}
	case errors.As(err, &sem) && errors.Is(err, json.ErrUnknownName):
		return Error{Field: join(prefix, sem.JSONPointer), Offset: base + sem.ByteOffset, Message: "unknown field"}
	case errors.As(err, &sem):
		msg := "must be " + expected(sem.GoType)
		if sem.JSONKind != 0 {
			msg += ", got " + kindName(sem.JSONKind)
		}
		if sem.Err != nil {
			msg += " (" + sem.Err.Error() + ")"
		}
		return Error{Field: join(prefix, sem.JSONPointer), Offset: base + sem.ByteOffset, Message: msg, WrongType: true}
	default:
		return Error{Field: strings.Join(prefix, "."), Offset: base, Message: err.Error()}
	}
}

// join appends the tokens of a JSON pointer ("/job/task_id") to prefix
// and returns the dotted path ("job.task_id").
func join(prefix []string, ptr jsontext.Pointer) string {
	parts := slices.Clone(prefix)
	for tok := range ptr.Tokens() {
		parts = append(parts, tok)
	}
	return strings.Join(parts, ".")
}

// expected names the JSON a Go type is read from.
func expected(t reflect.Type) string {
	if t == nil {
		return "valid JSON"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[time.Time]():
		return "an RFC 3339 time string"
	case reflect.TypeFor[jsontext.Value]():
		return "a JSON value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "a " + t.Kind().String()
}

// kindName names a JSON token kind.
func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "invalid JSON"
}
