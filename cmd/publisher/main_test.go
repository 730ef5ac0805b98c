package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	appconfig "github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// setEnv sets every variable the command reads (unsets those whose value
// is ""), so the host's environment cannot leak in. NATS_URL points nowhere
// unless a test gives a server, so no test can start the embedded server
// on the default port.
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	base := map[string]string{
		"NATS_URL": "nats://127.0.0.1:1", "NATS_CREDS": "", "NATS_CA": "", "NATS_CERT": "", "NATS_KEY": "",
		"PUBLISHER_LISTEN_ADDR": "127.0.0.1:0", "PUBLISHER_TOKENS": "", "PUBLISHER_MAX_BODY_BYTES": "",
		"PUBLISHER_OPS_ADDR": "127.0.0.1:0", "PUBLISHER_ADMIN_TOKENS": "", "WEBHOOKS_MASTER_KEY": "", "WEBHOOKS_DEV_MODE": "",
		"STREAMS_REPLICAS": "", "WEBHOOKS_ALLOW_DESTINATIONS": "127.0.0.0/8", "WEBHOOKS_UNSAFE_ALLOW_HTTP": "",
		"LOG_LEVEL": "debug", "LOG_STORE_URL": "sqlite:" + filepath.Join(t.TempDir(), "deliveries.db"), "LOG_RETENTION": "",
	}
	for k, v := range vars {
		base[k] = v
	}
	for k, v := range base {
		t.Setenv(k, v) // restored when the test ends
		if v == "" {
			if err := os.Unsetenv(k); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// natsServer starts a JetStream server, points NATS_URL at it and returns
// the WEBHOOKS stream (which run would create too).
func natsServer(t *testing.T, vars map[string]string) jetstream.Stream {
	t.Helper()
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	res, err := streams.Ensure(jstest.Context(t, 10*time.Second), js, streams.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if vars == nil {
		vars = map[string]string{}
	}
	vars["NATS_URL"] = s.ClientURL()
	setEnv(t, vars)
	return res.Deliver
}

// messages returns every message on stream.
func messages(t *testing.T, stream jetstream.Stream) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := jstest.Context(t, 5*time.Second)
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

const workflowJSON = `{"org_id":"org_file","source":"workflow","url":"https://127.0.0.1:9/wf","timeout_seconds":20,
 "workflow":{"workflow_id":"wf_1","run_id":"run_1","row_count":0,"previous_block_id":"b_1",
  "previous_block_name":"lead_enrichment","previous_block_number":1,"results":[]}}`

func TestPublish(t *testing.T) {
	file := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(file, []byte(workflowJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantOrg    string
		wantSource envelope.Source
	}{
		{"job flags", []string{"publish", "-org", "org_1", "-url", "https://127.0.0.1:9/hook", "-task-id", "t-1",
			"-status", "completed", "-task-type", "find_email", "-result", `{"email":"a@b.co"}`}, "", "org_1", envelope.SourceJob},
		{"failed job flags", []string{"publish", "-org", "org_1", "-url", "https://127.0.0.1:9/hook", "-task-id", "t-2",
			"-status", "failed", "-task-type", "find_email", "-error", "no email found"}, "", "org_1", envelope.SourceJob},
		{"stdin", []string{"publish", "-file", "-"}, workflowJSON, "org_file", envelope.SourceWorkflow},
		{"stdin positional", []string{"publish", "-"}, workflowJSON, "org_file", envelope.SourceWorkflow},
		{"file with org override", []string{"publish", "-file", file, "-org", "org_2"}, "", "org_2", envelope.SourceWorkflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := natsServer(t, nil)
			var stdout bytes.Buffer
			var stderr jstest.LogBuffer // NATS callbacks may still log after run returns
			err := run(context.Background(), tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if err != nil {
				t.Fatalf("run: %v\nstderr: %s", err, stderr.String())
			}
			var receipt publish.Receipt
			if err := json.Unmarshal(stdout.Bytes(), &receipt); err != nil || receipt.EventID == "" {
				t.Fatalf("stdout = %q, want a receipt with an event_id (%v)", stdout.String(), err)
			}
			msgs := messages(t, stream)
			if len(msgs) != 1 {
				t.Fatalf("stream holds %d messages, want 1", len(msgs))
			}
			if got := msgs[0].Header.Get("Nats-Msg-Id"); got != receipt.EventID {
				t.Errorf("Nats-Msg-Id = %q, want %q", got, receipt.EventID)
			}
			req, err := envelope.Decode(msgs[0].Data, envelope.URLPolicy{})
			if err != nil {
				t.Fatal(err)
			}
			if req.EventID != receipt.EventID || req.OrgID != tt.wantOrg || req.Source != tt.wantSource {
				t.Errorf("stored event %s org %s source %s, want %s %s %s", req.EventID, req.OrgID, req.Source, receipt.EventID, tt.wantOrg, tt.wantSource)
			}
			if !strings.Contains(stderr.String(), "UNSAFE") {
				t.Errorf("stderr does not warn about the allow-list: %s", stderr.String())
			}
		})
	}
}

func TestPublishRefused(t *testing.T) {
	stream := natsServer(t, nil)
	args := []string{"publish", "-org", "org_1", "-url", "https://10.0.0.1/hook", "-task-id", "t-1",
		"-status", "completed", "-task-type", "find_email", "-result", `{}`}
	err := run(context.Background(), args, nil, io.Discard, io.Discard)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "-url: destination refused") {
		t.Errorf("err = %v, want a usage error naming -url", err)
	}
	if n := len(messages(t, stream)); n != 0 {
		t.Errorf("stream holds %d messages, want 0", n)
	}
}

func TestUsageErrors(t *testing.T) {
	setEnv(t, nil)
	job := []string{"-org", "o", "-url", "https://127.0.0.1/", "-task-id", "t", "-status", "completed", "-task-type", "x"}
	tests := []struct {
		name string
		args []string
		want []string // substrings of the error
	}{
		{"unknown command", []string{"pubish"}, []string{`unknown command "pubish"`}},
		{"serve with arguments", []string{"serve", "now"}, []string{"serve takes no arguments"}},
		{"unknown flag", []string{"publish", "-orgg", "x"}, []string{"-orgg"}},
		{"nothing given", []string{"publish"}, []string{"-org is required", "-url is required", "-task-id is required", "-status is required", "-task-type is required"}},
		{"bad source", append([]string{"publish", "-source", "cron"}, job...), []string{"-source must be job or workflow"}},
		{"workflow without file", append([]string{"publish", "-source", "workflow"}, job...), []string{"-source workflow needs -file"}},
		{"file and job flags", []string{"publish", "-file", "x.json", "-task-id", "t", "-status", "failed"}, []string{"-task-id cannot be combined", "-status cannot be combined"}},
		{"extra argument", append([]string{"publish", "extra"}, job...), []string{"unexpected arguments"}},
		{"bad status", []string{"publish", "-org", "o", "-url", "https://127.0.0.1/", "-task-id", "t", "-status", "done", "-task-type", "x"}, []string{"-status: must be"}},
		{"result not an object", append([]string{"publish", "-result", "[1]"}, job...), []string{"-result: must be a JSON object"}},
		{"bad event id", append([]string{"publish", "-event-id", "ABC"}, job...), []string{"-event-id: must be a UUID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, strings.NewReader(""), io.Discard, io.Discard)
			if !errors.Is(err, errUsage) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to mention %q", err, w)
				}
			}
			if code := exitCode(err, io.Discard); code != 2 {
				t.Errorf("exit code = %d, want 2", code)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		vars map[string]string
		want string
	}{
		{"serve without tokens", nil, nil, "PUBLISHER_TOKENS"},
		{"explicit serve without tokens", []string{"serve"}, map[string]string{"PUBLISHER_TOKENS": " , "}, "PUBLISHER_TOKENS"},
		{"token with a space", []string{"serve"}, map[string]string{"PUBLISHER_TOKENS": "a b"}, "PUBLISHER_TOKENS"},
		{"bad log level", []string{"serve"}, map[string]string{"PUBLISHER_TOKENS": "t", "LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"bad replicas", []string{"serve"}, map[string]string{"PUBLISHER_TOKENS": "t", "STREAMS_REPLICAS": "7"}, "STREAMS_REPLICAS"},
		{"bad body limit", []string{"serve"}, map[string]string{"PUBLISHER_TOKENS": "t", "PUBLISHER_MAX_BODY_BYTES": "lots"}, "PUBLISHER_MAX_BODY_BYTES"},
		{"bad allow-list", []string{"publish", "-file", "-"}, map[string]string{"WEBHOOKS_ALLOW_DESTINATIONS": "http://x/"}, "WEBHOOKS_ALLOW_DESTINATIONS"},
		{"bad http switch", []string{"publish", "-file", "-"}, map[string]string{"WEBHOOKS_UNSAFE_ALLOW_HTTP": "maybe"}, "WEBHOOKS_UNSAFE_ALLOW_HTTP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.vars)
			err := run(context.Background(), tt.args, strings.NewReader(""), io.Discard, io.Discard)
			if !errors.Is(err, appconfig.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a configuration error naming %s", err, tt.want)
			}
			if code := exitCode(err, io.Discard); code != 2 {
				t.Errorf("exit code = %d, want 2", code)
			}
		})
	}
}

// listenAddr finds the address in the "ingest API listening" log line.
func listenAddr(log string) string { return loggedAddr(log, "ingest API listening") }

// loggedAddr returns the addr of the first log line with message msg.
func loggedAddr(log, msg string) string {
	for _, line := range strings.Split(log, "\n") {
		var l struct{ Message, Addr string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == msg {
			return l.Addr
		}
	}
	return ""
}

func TestServe(t *testing.T) {
	stream := natsServer(t, map[string]string{"PUBLISHER_TOKENS": "tok_a, tok_b", "WEBHOOKS_UNSAFE_ALLOW_HTTP": "true"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr jstest.LogBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, nil, io.Discard, &stderr) }()

	var addr string
	jstest.Eventually(t, 10*time.Second, func() bool {
		select {
		case err := <-done:
			t.Fatalf("run returned before listening: %v\n%s", err, stderr.String())
		default:
		}
		addr = listenAddr(stderr.String())
		return addr != ""
	}, "listening log line in %s", &stderr)
	body := `{"org_id":"org_1","source":"job","url":"http://127.0.0.1:9/hook","job":{"task_id":"t","status":"failed","task_type":"x","error":"boom"}}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok_b")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d: %s", resp.StatusCode, raw)
	}
	if n := len(messages(t, stream)); n != 1 {
		t.Errorf("stream holds %d messages, want 1", n)
	}
	for _, w := range []string{"WEBHOOKS_ALLOW_DESTINATIONS lets deliveries reach private addresses", "WEBHOOKS_UNSAFE_ALLOW_HTTP accepts plain-http destinations"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("log does not contain %q", w)
		}
	}
	// Request lines are info lines: batched, written within the flush interval.
	jstest.Eventually(t, 2*time.Second, func() bool { return strings.Contains(stderr.String(), `"status":202`) },
		"log does not contain the request line: %s", &stderr)
	if strings.Contains(stderr.String(), "tok_b") {
		t.Error("log contains a token")
	}
	ops := loggedAddr(stderr.String(), "ops endpoint listening: /metrics /healthz /readyz")
	mresp, err := http.Get("http://" + ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsBody, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, series := range []string{`webhooks_publishes_total{result="stored"} 1`, `webhooks_publishes_total{result="unavailable"} 0`} {
		if !strings.Contains(string(metricsBody), series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	// An ingest token publishes and reads nothing: reads need an API token
	// (operator or organization).
	for token, want := range map[string]int{"": http.StatusUnauthorized, "tok_b": http.StatusUnauthorized} {
		sreq, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/status?event_id=0b7e2f7c-3c1a-4c55-9a43-1f2d3e4c5b6a", nil)
		if token != "" {
			sreq.Header.Set("Authorization", "Bearer "+token)
		}
		sresp, err := http.DefaultClient.Do(sreq)
		if err != nil {
			t.Fatal(err)
		}
		sresp.Body.Close()
		if sresp.StatusCode != want {
			t.Errorf("GET /v1/status with token %q = %d, want %d", token, sresp.StatusCode, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestServeAdminAPI(t *testing.T) {
	natsServer(t, map[string]string{"PUBLISHER_TOKENS": "tok_a", "PUBLISHER_ADMIN_TOKENS": "adm_1", "WEBHOOKS_DEV_MODE": "true"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr jstest.LogBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, nil, io.Discard, &stderr) }()
	var addr string
	jstest.Eventually(t, 10*time.Second, func() bool { addr = listenAddr(stderr.String()); return addr != "" }, "listening in %s", &stderr)

	post := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/admin/orgs/org_1/signing-secret", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	if code, _ := post("tok_a"); code != http.StatusUnauthorized {
		t.Errorf("ingest token on the admin API = %d, want 401", code)
	}
	code, body := post("adm_1")
	if code != http.StatusCreated || !strings.Contains(body, `"plaintext":"sk_whsec_`) {
		t.Fatalf("create = %d %s", code, body)
	}
	secret := body[strings.Index(body, "sk_whsec_") : strings.Index(body, "sk_whsec_")+73]
	if strings.Contains(stderr.String(), secret) || strings.Contains(stderr.String(), "adm_1") {
		t.Error("the log contains the secret or the admin token")
	}
	cancel()
	<-done
}

func TestServeAdminAPINeedsMasterKey(t *testing.T) {
	natsServer(t, map[string]string{"PUBLISHER_TOKENS": "tok_a", "PUBLISHER_ADMIN_TOKENS": "adm_1"})
	err := run(context.Background(), []string{"serve"}, nil, io.Discard, &jstest.LogBuffer{})
	if err == nil || !strings.Contains(err.Error(), "WEBHOOKS_MASTER_KEY") {
		t.Errorf("error = %v, want one naming WEBHOOKS_MASTER_KEY", err)
	}
}
