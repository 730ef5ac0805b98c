package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

const (
	secretNew = "sk_whsec_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	secretOld = "sk_whsec_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	secretBad = "sk_whsec_cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	nowUnix   = int64(1700000000)
)

func TestHandler(t *testing.T) {
	body := []byte(`{"task_id":"t_1","status":"completed"}`)
	tests := []struct {
		name    string
		method  string
		body    []byte
		header  string
		eventID string
		want    int
	}{
		{name: "valid single", body: body, header: sign.Header(nowUnix, body, secretNew), eventID: "e-1", want: 204},
		{name: "valid dual", body: body, header: sign.Header(nowUnix, body, secretNew, secretOld), eventID: "e-2", want: 204},
		{name: "old secret only", body: body, header: sign.Header(nowUnix, body, secretOld), eventID: "e-3", want: 204},
		{name: "duplicate event", body: body, header: sign.Header(nowUnix, body, secretNew), eventID: "e-1", want: 204},
		{name: "tampered body", body: []byte(`{"task_id":"t_1","status":"failed"}`), header: sign.Header(nowUnix, body, secretNew), eventID: "e-4", want: 400},
		{name: "wrong secret", body: body, header: sign.Header(nowUnix, body, secretBad), eventID: "e-5", want: 400},
		{name: "stale", body: body, header: sign.Header(nowUnix-301, body, secretNew), eventID: "e-6", want: 400},
		{name: "unsigned", body: body, eventID: "e-7", want: 400},
		{name: "missing event id", body: body, header: sign.Header(nowUnix, body, secretNew), want: 400},
		{name: "too large", body: bytes.Repeat([]byte("a"), maxBodyBytes+1), eventID: "e-8", want: 413},
		{name: "GET", method: http.MethodGet, want: 405},
	}
	var logs bytes.Buffer
	h := newHandler([]string{secretNew, secretOld}, func() time.Time { return time.Unix(nowUnix, 0) },
		slog.New(slog.NewTextHandler(&logs, nil)))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, "/", bytes.NewReader(tt.body))
			if tt.header != "" {
				req.Header.Set(sign.HeaderName, tt.header)
			}
			if tt.eventID != "" {
				req.Header.Set("Sixtyfour-Event-Id", tt.eventID)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status = %d, want %d (body %q)", rec.Code, tt.want, rec.Body.String())
			}
		})
	}
	if got, want := strings.Count(logs.String(), "duplicate delivery ignored"), 1; got != want {
		t.Errorf("duplicate log lines = %d, want %d", got, want)
	}
	for _, s := range []string{secretNew, secretOld} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("logs contain a secret:\n%s", logs.String())
		}
	}
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantAddr string
		wantN    int
		wantErr  string
	}{
		{name: "one secret, default addr", env: map[string]string{"SIGNING_SECRETS": secretNew},
			wantAddr: defaultListenAddr, wantN: 1},
		{name: "two secrets with spaces", env: map[string]string{"SIGNING_SECRETS": secretNew + " , " + secretOld, "LISTEN_ADDR": ":9000"},
			wantAddr: ":9000", wantN: 2},
		{name: "none", env: map[string]string{}, wantErr: "SIGNING_SECRETS"},
		{name: "three", env: map[string]string{"SIGNING_SECRETS": secretNew + "," + secretOld + "," + secretBad}, wantErr: "SIGNING_SECRETS"},
		{name: "masked preview pasted", env: map[string]string{"SIGNING_SECRETS": sign.Mask(secretNew)}, wantErr: "SIGNING_SECRETS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadConfig() error = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig() error = %v, want nil", err)
			}
			if cfg.listenAddr != tt.wantAddr || len(cfg.secrets) != tt.wantN {
				t.Errorf("loadConfig() = addr %q, %d secrets; want %q, %d", cfg.listenAddr, len(cfg.secrets), tt.wantAddr, tt.wantN)
			}
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	err := run(t.Context(), func(string) string { return "" }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "SIGNING_SECRETS") {
		t.Errorf("run() error = %v, want one naming SIGNING_SECRETS", err)
	}
}
