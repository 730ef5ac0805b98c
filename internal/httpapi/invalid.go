package httpapi

import (
	"errors"
	"net/http"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/strictjson"
)

// Invalid is the body of a 400 invalid_request answer: the Error shape
// plus one entry per bad field or parameter, named by its JSON path or
// parameter name. Fields is [] (never null) when the problem is the
// request as a whole, such as a body that is not a JSON object.
type Invalid struct {
	Error
	Fields []envelope.FieldError `json:"fields"`
}

// WriteInvalid writes a 400 invalid_request answer listing fields and
// returns the status.
func WriteInvalid(w http.ResponseWriter, message string, fields []envelope.FieldError) int {
	if fields == nil {
		fields = []envelope.FieldError{}
	}
	return WriteJSON(w, http.StatusBadRequest, Invalid{Error: Error{Error: "invalid_request", Message: message}, Fields: fields})
}

// JSONFields returns one entry per problem of the *strictjson.Errors in
// err's chain that names a field, in document order, or nil when there is
// none. Problems of the document as a whole (a syntax error outside any
// member, data after the value, a body that is not an object) name no
// field: the error's message carries them.
func JSONFields(err error) []envelope.FieldError {
	var list *strictjson.Errors
	if !errors.As(err, &list) {
		return nil
	}
	var fields []envelope.FieldError
	for _, p := range list.Problems {
		if p.Field != "" {
			fields = append(fields, envelope.FieldError{Field: p.Field, Message: p.Message})
		}
	}
	return fields
}
