package strictjson

import (
	stdjson "encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

type inner struct {
	N *int    `json:"n"`
	S string  `json:"s"`
	F float64 `json:"f"`
}

type doc struct {
	Name    string             `json:"name"`
	At      time.Time          `json:"at"`
	Headers map[string]string  `json:"headers"`
	Inner   *inner             `json:"inner"`
	Items   []inner            `json:"items"`
	Raw     jsontext.Value     `json:"raw"`
	Std     stdjson.RawMessage `json:"std"`
	Any     any                `json:"any"`
}

// problems returns the list in err, failing the test when there is none.
func problems(t *testing.T, err error) *Errors {
	t.Helper()
	var list *Errors
	if !errors.As(err, &list) || len(list.Problems) == 0 {
		t.Fatalf("Unmarshal error = %v, want an *Errors with problems", err)
	}
	return list
}

func TestUnmarshalAcceptsTheDocumentedShape(t *testing.T) {
	var d doc
	err := Unmarshal([]byte(`{"name":"a","at":"2026-11-28T01:02:03Z","headers":{"X-A":"1"},"inner":{"n":2,"s":"é","f":1.5},
		"items":[{"n":1}],"raw":{"Any":[1]},"std":[{"x":null}],"any":{"k":true}}`), &d)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "a" || d.Headers["X-A"] != "1" || *d.Inner.N != 2 || d.Inner.S != "é" || d.Inner.F != 1.5 || d.At.Year() != 2026 ||
		*d.Items[0].N != 1 || string(d.Raw) != `{"Any":[1]}` || string(d.Std) != `[{"x":null}]` {
		t.Errorf("decoded %+v", d)
	}
}

func TestUnmarshalRefusals(t *testing.T) {
	tests := []struct {
		name, data string
		want       Error // Message: a prefix of the message
	}{
		{"unknown field", `{"nope":1}`, Error{Field: "nope", Message: "unknown field", Offset: 1}},
		{"unknown nested field", `{"inner":{"nope":1}}`, Error{Field: "inner.nope", Message: "unknown field", Offset: 10}},
		{"unknown field in an array element", `{"items":[{},{"nope":1}]}`, Error{Field: "items.1.nope", Message: "unknown field", Offset: 14}},
		{"name in another case", `{"Name":"a"}`, Error{Field: "Name", Message: `unknown field; did you mean "name"?`, Offset: 1}},
		{"duplicate name", `{"name":"a","name":"b"}`, Error{Field: "name", Message: "duplicate object member name", Offset: 12}},
		{"duplicate name written with an escape", `{"name":"a","n\u0061me":"b"}`, Error{Field: "name", Message: "duplicate object member name", Offset: 12}},
		{"duplicate name in a raw value", `{"raw":{"a":1,"a":2}}`, Error{Field: "raw.a", Message: "duplicate object member name", Offset: 14}},
		{"invalid UTF-8", "{\"name\":\"\xff\"}", Error{Field: "name", Message: "invalid UTF-8", Offset: 8}},
		{"lone surrogate", `{"name":"\ud800"}`, Error{Field: "name", Message: "invalid UTF-8", Offset: 8}},
		{"trailing data", `{} {}`, Error{Message: "data after the JSON value (at byte 3)", Offset: 3}},
		{"syntax", `{"name":}`, Error{Field: "name", Message: "", Offset: 8}},
		{"truncated", `{"name":"a"`, Error{Message: "unexpected", Offset: 11}},
		{"empty", ``, Error{Message: "unexpected end of JSON input", Offset: 0}},
		{"string for integer", `{"inner":{"n":"2"}}`, Error{Field: "inner.n", Message: "must be an integer, got a string", Offset: 14, WrongType: true}},
		{"fraction for integer", `{"inner":{"n":2.5}}`, Error{Field: "inner.n", Message: "must be an integer, got a number", Offset: 14, WrongType: true}},
		{"number for string", `{"name":5}`, Error{Field: "name", Message: "must be a string, got a number", Offset: 8, WrongType: true}},
		{"map value", `{"headers":{"X-A":true}}`, Error{Field: "headers.X-A", Message: "must be a string, got a boolean", Offset: 18, WrongType: true}},
		{"bad time", `{"at":"yesterday"}`, Error{Field: "at", Message: "must be an RFC 3339 time string, got a string", Offset: 6, WrongType: true}},
		{"array for object", `[]`, Error{Message: "must be an object, got an array", WrongType: true}},
		{"null for object", ` null `, Error{Message: "must be an object, got null", WrongType: true}},
		{"string for object", `"x"`, Error{Message: "must be an object, got a string", WrongType: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			list := problems(t, Unmarshal([]byte(tt.data), &d))
			if len(list.Problems) != 1 || list.Truncated {
				t.Fatalf("got %+v, want one problem", list)
			}
			got := list.Problems[0]
			if got.Field != tt.want.Field || got.WrongType != tt.want.WrongType || got.Offset != tt.want.Offset ||
				!strings.HasPrefix(got.Message, tt.want.Message) {
				t.Errorf("got %+v, want field %q, offset %d, wrong type %v, message starting %q",
					got, tt.want.Field, tt.want.Offset, tt.want.WrongType, tt.want.Message)
			}
			if strings.Contains(got.Error(), "strictjson") || strings.Contains(got.Error(), "Go ") {
				t.Errorf("message %q names Go types", got.Error())
			}
		})
	}
}

func TestUnmarshalListsEveryProblem(t *testing.T) {
	data := "{\"colour\":1,\"Name\":\"a\",\"name\":5,\"name\":\"b\",\"inner\":{\"n\":\"2\",\"s\":\"\xff\",\"nope\":[]}," +
		`"headers":{"X-A":1,"X-B":"ok","X-C":null},"items":[{"f":"x"},{"n":1.5}],"at":"yesterday"}`
	want := []struct {
		field     string
		wrongType bool
	}{
		{"colour", false},
		{"Name", false},
		{"name", true},     // 5 for a string
		{"name", false},    // the duplicate
		{"inner.n", true},  // "2" for an integer
		{"inner.s", false}, // invalid UTF-8
		{"inner.nope", false},
		{"headers.X-A", true},
		{"items.0.f", true},
		{"items.1.n", true},
		{"at", true},
	}
	var d doc
	list := problems(t, Unmarshal([]byte(data), &d))
	var got []string
	for _, p := range list.Problems {
		got = append(got, fmt.Sprintf("%s %v", p.Field, p.WrongType))
	}
	var wantS []string
	for _, w := range want {
		wantS = append(wantS, fmt.Sprintf("%s %v", w.field, w.wrongType))
	}
	if !reflect.DeepEqual(got, wantS) || list.Truncated {
		t.Errorf("problems =\n%q\nwant\n%q (truncated %v)", got, wantS, list.Truncated)
	}
	for i := 1; i < len(list.Problems); i++ {
		if list.Problems[i].Offset < list.Problems[i-1].Offset {
			t.Errorf("problems out of document order: %+v", list.Problems)
		}
	}
}

func TestUnmarshalSyntaxErrorIsAlone(t *testing.T) {
	var d doc
	list := problems(t, Unmarshal([]byte(`{"colour":1,"name":5,"name":"x","inner":{"n":}}`), &d))
	if len(list.Problems) != 1 {
		t.Fatalf("problems = %+v, want the syntax error alone", list.Problems)
	}
	if p := list.Problems[0]; p.WrongType || p.Offset != 45 || !strings.Contains(p.Message, "45") {
		t.Errorf("problem = %+v, want a syntax error at byte 45, named in the message", p)
	}
}

func TestUnmarshalErrorsAs(t *testing.T) {
	var d doc
	err := Unmarshal([]byte(`{"a":1,"b":2}`), &d)
	wrapped := fmt.Errorf("context: %w", err)
	var list *Errors
	var first *Error
	if !errors.As(wrapped, &list) || len(list.Problems) != 2 {
		t.Fatalf("errors.As *Errors on %v: %+v", wrapped, list)
	}
	if !errors.As(wrapped, &first) || first.Field != "a" {
		t.Errorf("errors.As *Error = %+v, want the first problem", first)
	}
	if got, want := err.Error(), "a: unknown field; b: unknown field"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestUnmarshalTruncates(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range MaxProblems + 50 {
		fmt.Fprintf(&b, `"x%d":1,`, i)
	}
	b.WriteString(`"name":"a"}`)
	var d doc
	list := problems(t, Unmarshal([]byte(b.String()), &d))
	if len(list.Problems) != MaxProblems || !list.Truncated || list.Problems[0].Field != "x0" {
		t.Errorf("got %d problems (truncated %v, first %+v), want the first %d and truncated",
			len(list.Problems), list.Truncated, list.Problems[0], MaxProblems)
	}
	if !strings.HasSuffix(list.Error(), "; ...") {
		t.Errorf("Error() does not say it was truncated: ...%s", list.Error()[len(list.Error())-40:])
	}
}

func TestUnmarshalNullIsNotAnObject(t *testing.T) {
	var p *doc
	if err := Unmarshal([]byte(`null`), &p); err != nil || p != nil {
		t.Errorf("null into a pointer: err %v, value %v; want nil, nil", err, p)
	}
	var m map[string]int
	if err := Unmarshal([]byte(`null`), &m); err != nil {
		t.Errorf("null into a map: %v", err)
	}
	var d doc
	if list := problems(t, Unmarshal([]byte("\r\n null\t"), &d)); !list.Problems[0].WrongType {
		t.Errorf("null into a struct: %+v, want a wrong type", list.Problems)
	}
}

// FuzzUnmarshal checks that Unmarshal refuses exactly what v2 with
// RejectUnknownMembers refuses (and a top-level null), with at least one
// and at most MaxProblems problems, found by its own passes (not v2's
// first error as a fallback).
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{`{"name":"a","inner":{"n":1},"items":[{}]}`, `{"colour":1,"name":5}`, `null`, `[]`,
		`{"name":"a","name":"b"}`, "{\"name\":\"\xff\"}", `{"headers":{"a":1}}`, `{"raw":{"a":1,"a":2}}`, `{} x`, `{"inner":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var strict, loose doc
		err := Unmarshal(data, &strict)
		v2err := json.Unmarshal(data, &loose, json.RejectUnknownMembers(true))
		null := strings.Trim(string(data), " \t\r\n") == "null"
		switch {
		case err == nil && (v2err != nil || null):
			t.Fatalf("accepted what v2 refuses: %v", v2err)
		case err != nil && v2err == nil && !null:
			t.Fatalf("refused what v2 accepts: %v", err)
		case err != nil:
			list := problems(t, err)
			if len(list.Problems) > MaxProblems {
				t.Fatalf("%d problems", len(list.Problems))
			}
			if !null && diagnose(data, reflect.TypeFor[*doc]()) == nil {
				t.Fatalf("the passes found nothing; v2 says %v", v2err)
			}
		}
	})
}
