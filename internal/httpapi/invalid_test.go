package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/strictjson"
)

func TestWriteInvalid(t *testing.T) {
	tests := []struct {
		name   string
		fields []envelope.FieldError
		want   string
	}{
		{"no fields", nil, `{"error":"invalid_request","message":"m","fields":[]}` + "\n"},
		{"one field", []envelope.FieldError{{Field: "a", Message: "b"}},
			`{"error":"invalid_request","message":"m","fields":[{"field":"a","message":"b"}]}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if got := httpapi.WriteInvalid(rec, "m", tt.fields); got != http.StatusBadRequest || rec.Code != http.StatusBadRequest {
				t.Errorf("status = %d, written %d, want 400", got, rec.Code)
			}
			if got := rec.Body.String(); got != tt.want {
				t.Errorf("body = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestJSONFields(t *testing.T) {
	var v struct {
		A int `json:"a"`
	}
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"every named problem", strictjson.Unmarshal([]byte(`{"a":"1","b":2,"c":3}`), &v), []string{"a", "b", "c"}},
		{"wrapped", fmt.Errorf("ctx: %w", strictjson.Unmarshal([]byte(`{"b":2}`), &v)), []string{"b"}},
		{"the document as a whole", strictjson.Unmarshal([]byte(`[]`), &v), nil},
		{"another error", json.Unmarshal([]byte(`{`), &v), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range httpapi.JSONFields(tt.err) {
				if f.Message == "" {
					t.Errorf("field %s has no message", f.Field)
				}
				got = append(got, f.Field)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fields = %q, want %q", got, tt.want)
			}
		})
	}
}
