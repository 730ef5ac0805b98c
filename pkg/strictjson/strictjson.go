// Package strictjson decodes JSON from outside the way no other parser
// can read differently: member names match exactly (no case folding),
// unknown members, duplicate names, invalid UTF-8 and data after the value
// are refused. These are the default semantics of encoding/json/v2 (the
// github.com/go-json-experiment/json module, which Go 1.27 makes the
// standard library's), plus the refusal of unknown members. An error
// names the field as a dotted path ("job.task_id") and says what is wrong
// in terms of the JSON, never of Go types.
package strictjson

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// options add the refusal of unknown members to v2's defaults.
var options = json.JoinOptions(json.RejectUnknownMembers(true))

// Error is why data is not JSON of the expected shape.
type Error struct {
	// Field is the dotted path of the offending value ("job.task_id");
	// empty for the document as a whole.
	Field string
	// Message says what is wrong ("must be an integer, got a string").
	Message string
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

// Unmarshal decodes data into v (a pointer) strictly. It returns nil or an
// *Error.
func Unmarshal(data []byte, v any) error {
	err := json.Unmarshal(data, v, options)
	if err == nil {
		return nil
	}
	var (
		syn *jsontext.SyntacticError
		sem *json.SemanticError
	)
	switch {
	case errors.As(err, &syn) && strings.Contains(syn.Err.Error(), "after top-level value"):
		return &Error{Message: fmt.Sprintf("data after the JSON value (at byte %d)", syn.ByteOffset)}
	case errors.As(err, &syn):
		return &Error{Field: path(syn.JSONPointer), Message: fmt.Sprintf("%v (at byte %d)", syn.Err, syn.ByteOffset)}
	case errors.As(err, &sem) && errors.Is(err, json.ErrUnknownName):
		return &Error{Message: fmt.Sprintf("unknown field %q", path(sem.JSONPointer))}
	case errors.As(err, &sem):
		msg := "must be " + expected(sem.GoType)
		if sem.JSONKind != 0 {
			msg += ", got " + kindName(sem.JSONKind)
		}
		if sem.Err != nil {
			msg += " (" + sem.Err.Error() + ")"
		}
		return &Error{Field: path(sem.JSONPointer), Message: msg, WrongType: true}
	default:
		return &Error{Message: err.Error()}
	}
}

// path turns a JSON pointer ("/job/task_id") into a dotted path
// ("job.task_id").
func path(ptr jsontext.Pointer) string {
	var parts []string
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
