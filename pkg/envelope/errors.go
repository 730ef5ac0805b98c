package envelope

import (
	"errors"
	"strings"
)

// ErrInvalid is the sentinel every validation failure wraps: errors.Is(err,
// ErrInvalid) is true for a *ValidationError.
var ErrInvalid = errors.New("invalid delivery request")

// ErrUnknownVersion is returned by Decode for a request whose "v" is not a
// version this package understands (currently only 1).
var ErrUnknownVersion = errors.New("unknown delivery request version")

// ErrMalformed is returned by Decode for input that is not a JSON object of
// the expected shape (syntax errors, wrong types, unknown fields, trailing data).
var ErrMalformed = errors.New("malformed delivery request")

// FieldError is one problem with one field. Field is the JSON path of the
// field, such as "url", "headers.X-Foo" or "job.task_type".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error returns "field: message".
func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidationError lists every field that failed validation, in a stable
// order. It wraps ErrInvalid.
type ValidationError struct {
	Fields []FieldError
}

// Error joins the field errors with "; ".
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return ErrInvalid.Error() + ": " + strings.Join(parts, "; ")
}

// Unwrap returns ErrInvalid.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// problems collects field errors while validating.
type problems []FieldError

func (p *problems) add(field, msg string) { *p = append(*p, FieldError{Field: field, Message: msg}) }

// err returns nil when nothing was collected, else a *ValidationError.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Fields: p}
}
