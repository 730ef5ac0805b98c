package strictjson

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// lenient reads past duplicate names and invalid UTF-8, which the passes
// report themselves, so that one of them does not hide the others.
var lenient = json.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// scan reads data token by token, whatever the target type, and records
// each duplicate member name and each string (name or value) that is not
// valid UTF-8, the refusals v2 makes at the syntax level. It returns the
// syntax error, or data after the first value, that stops it, if any.
func scan(data []byte, c *collector) *Error {
	dec := jsontext.NewDecoder(bytes.NewReader(data), lenient)
	var names []map[string]bool // the member names of each open object
	for {
		kind, n := dec.StackIndex(dec.StackDepth())
		isName := kind == '{' && n%2 == 0
		switch dec.PeekKind() {
		case 0:
			_, err := dec.ReadToken()
			return syntaxError(err, len(data))
		case '{', '[', '}', ']':
			tok, err := dec.ReadToken()
			if err != nil {
				return syntaxError(err, len(data))
			}
			switch tok.Kind() {
			case '{':
				names = append(names, map[string]bool{})
			case '}':
				names = names[:len(names)-1]
			}
		default:
			raw, err := dec.ReadValue()
			if err != nil {
				return syntaxError(err, len(data))
			}
			if raw.Kind() == '"' {
				scanString(dec, raw, isName, names, c)
			}
		}
		if dec.StackDepth() == 0 {
			break
		}
	}
	off := dec.InputOffset()
	if rest := bytes.TrimLeft(data[off:], " \t\r\n"); len(rest) > 0 {
		at := int64(len(data) - len(rest))
		return &Error{Message: fmt.Sprintf("data after the JSON value (at byte %d)", at), Offset: at}
	}
	return nil
}

// scanString records what is wrong with the string raw just read (a
// member name when isName). The scan goes on when the collector is full,
// since a syntax error further on must still be found.
func scanString(dec *jsontext.Decoder, raw jsontext.Value, isName bool, names []map[string]bool, c *collector) {
	at := dec.InputOffset() - int64(len(raw))
	field := join(nil, dec.StackPointer())
	if !raw.IsValid() {
		msg := "invalid UTF-8"
		if isName {
			msg = "invalid UTF-8 in the member name"
		}
		c.add(0, Error{Field: field, Message: msg, Offset: at})
	}
	if !isName {
		return
	}
	name := unquote(raw)
	seen := names[len(names)-1]
	if seen[name] {
		c.add(0, Error{Field: field, Message: "duplicate object member name", Offset: at})
	}
	seen[name] = true
}

// syntaxError describes the error that stopped a decoder reading data
// (of length size).
func syntaxError(err error, size int) *Error {
	if errors.Is(err, io.EOF) {
		return &Error{Message: fmt.Sprintf("unexpected end of JSON input (at byte %d)", size), Offset: int64(size)}
	}
	e := convert(err, nil, 0)
	e.WrongType = false
	return &e
}

// unquote returns the text of a JSON string token, invalid UTF-8 replaced.
func unquote(raw jsontext.Value) string {
	b, _ := jsontext.AppendUnquote(nil, raw)
	return string(b)
}
