package ingest_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sixtyfour-oss/webhooks/internal/ingest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

func TestDecodeEventIDs(t *testing.T) {
	const clientID = "6f1c2a4e-8b7d-4c3e-9a1f-2b3c4d5e6f70"
	withID := `{"event_id":"` + clientID + `",` + strings.TrimPrefix(jobBody, "{")
	got, err := ingest.DecodeEvent(strings.NewReader(withID), fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if got.EventID != clientID {
		t.Errorf("event_id = %q, want the client's %q", got.EventID, clientID)
	}
	a, errA := ingest.DecodeEvent(strings.NewReader(jobBody), fixedNow)
	b, errB := ingest.DecodeEvent(strings.NewReader(jobBody), fixedNow)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if id, err := uuid.Parse(a.EventID); err != nil || id.String() != a.EventID || a.EventID == b.EventID {
		t.Errorf("event ids %q, %q: want two distinct canonical UUIDs", a.EventID, b.EventID)
	}
	if !a.CreatedAt.Equal(fixedNow) || a.Source != envelope.SourceJob || a.EventType != "find_email" {
		t.Errorf("request = %+v", a)
	}
	if err := a.Validate(envelope.URLPolicy{}); err != nil {
		t.Errorf("decoded job does not validate: %v", err)
	}
}

func TestDecodeEventNormalizes(t *testing.T) {
	body := edit(t, workflowBody, func(m map[string]any) {
		m["headers"] = map[string]string{"X-Fo\r\no": "v"}
		m["workflow"].(map[string]any)["started_at"] = "2026-04-22T21:59:00+02:00"
	})
	req, err := ingest.DecodeEvent(strings.NewReader(body), fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if req.Headers["X-Foo"] != "v" || len(req.Headers) != 1 {
		t.Errorf("headers = %q, want CR/LF stripped from the name", req.Headers)
	}
	if got, want := req.Workflow.StartedAt, time.Date(2026, 4, 22, 19, 59, 0, 0, time.UTC); got != want {
		t.Errorf("started_at = %v, want %v", got, want)
	}
	nullResult := edit(t, jobBody, func(m map[string]any) { m["job"].(map[string]any)["result"] = nil })
	req, err = ingest.DecodeEvent(strings.NewReader(nullResult), fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if req.Job.Result != nil {
		t.Errorf("result = %s, want null read as absent", req.Job.Result)
	}
}

func TestDecodeEventReadError(t *testing.T) {
	r := http.MaxBytesReader(nil, nopCloser{strings.NewReader(jobBody)}, 10)
	_, err := ingest.DecodeEvent(r, fixedNow)
	var tooBig *http.MaxBytesError
	if !errors.As(err, &tooBig) || errors.Is(err, ingest.ErrMalformed) {
		t.Errorf("err = %v, want a *http.MaxBytesError, not ErrMalformed", err)
	}
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ingest.Config
		wantErr string // substring; "" for valid
	}{
		{"valid", ingest.Config{Tokens: []string{"a"}}, ""},
		{"no tokens", ingest.Config{}, "Tokens is required"},
		{"empty token", ingest.Config{Tokens: []string{"a", ""}}, "Tokens[1]"},
		{"token with space", ingest.Config{Tokens: []string{"a b"}}, "Tokens[0]"},
		{"negative body limit", ingest.Config{Tokens: []string{"a"}, MaxBodyBytes: -1}, "MaxBodyBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tt.wantErr != "" && (!errors.Is(err, ingest.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("err = %v, want ErrInvalidConfig naming %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{jobBody, workflowBody, `{}`, `null`, `{"timeout_seconds":0}`, `{"workflow":{}}`, `[`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, err := ingest.DecodeEvent(strings.NewReader(body), fixedNow)
		var ve *envelope.ValidationError
		switch {
		case err == nil:
			if req == nil {
				t.Fatal("nil request without error")
			}
			if verr := req.Validate(envelope.URLPolicy{AllowHTTP: true}); verr != nil && !errors.As(verr, &ve) {
				t.Fatalf("Validate: %v", verr)
			}
		case errors.As(err, &ve):
			if len(ve.Fields) == 0 {
				t.Fatal("ValidationError without fields")
			}
		case !errors.Is(err, ingest.ErrMalformed):
			t.Fatalf("err = %v, want ErrMalformed or a ValidationError", err)
		}
	})
}
