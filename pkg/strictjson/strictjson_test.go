package strictjson

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type inner struct {
	N *int    `json:"n"`
	S string  `json:"s"`
	F float64 `json:"f"`
}

type doc struct {
	Name    string            `json:"name"`
	At      time.Time         `json:"at"`
	Headers map[string]string `json:"headers"`
	Inner   *inner            `json:"inner"`
}

func TestUnmarshalAcceptsTheDocumentedShape(t *testing.T) {
	var d doc
	err := Unmarshal([]byte(`{"name":"a","at":"2026-11-28T01:02:03Z","headers":{"X-A":"1"},"inner":{"n":2,"s":"é","f":1.5}}`), &d)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "a" || d.Headers["X-A"] != "1" || *d.Inner.N != 2 || d.Inner.S != "é" || d.Inner.F != 1.5 || d.At.Year() != 2026 {
		t.Errorf("decoded %+v", d)
	}
}

func TestUnmarshalRefusals(t *testing.T) {
	tests := []struct {
		name, data string
		want       Error
	}{
		{"unknown field", `{"nope":1}`, Error{Message: `unknown field "nope"`}},
		{"unknown nested field", `{"inner":{"nope":1}}`, Error{Message: `unknown field "inner.nope"`}},
		{"name in another case", `{"Name":"a"}`, Error{Message: `unknown field "Name"`}},
		{"duplicate name", `{"name":"a","name":"b"}`, Error{Field: "name", Message: "duplicate object member name"}},
		{"invalid UTF-8", "{\"name\":\"\xff\"}", Error{Field: "name", Message: "invalid UTF-8"}},
		{"trailing data", `{} {}`, Error{Message: "data after the JSON value"}},
		{"syntax", `{"name":}`, Error{Field: "name", Message: "invalid character"}},
		{"truncated", `{"name":"a"`, Error{Message: "unexpected EOF"}},
		{"string for integer", `{"inner":{"n":"2"}}`, Error{Field: "inner.n", Message: "must be an integer, got a string", WrongType: true}},
		{"fraction for integer", `{"inner":{"n":2.5}}`, Error{Field: "inner.n", Message: "must be an integer, got a number", WrongType: true}},
		{"number for string", `{"name":5}`, Error{Field: "name", Message: "must be a string, got a number", WrongType: true}},
		{"map value", `{"headers":{"X-A":true}}`, Error{Field: "headers.X-A", Message: "must be a string, got a boolean", WrongType: true}},
		{"bad time", `{"at":"yesterday"}`, Error{Field: "at", Message: "must be an RFC 3339 time string, got a string", WrongType: true}},
		{"array for object", `[]`, Error{Message: "must be an object, got an array", WrongType: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			err := Unmarshal([]byte(tt.data), &d)
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("Unmarshal error = %v, want an *Error", err)
			}
			if got.Field != tt.want.Field || got.WrongType != tt.want.WrongType || !strings.HasPrefix(got.Message, tt.want.Message) {
				t.Errorf("got %+v, want field %q, wrong type %v, message starting %q", *got, tt.want.Field, tt.want.WrongType, tt.want.Message)
			}
			if strings.Contains(got.Error(), "strictjson") || strings.Contains(got.Error(), "Go ") {
				t.Errorf("message %q names Go types", got.Error())
			}
		})
	}
}
