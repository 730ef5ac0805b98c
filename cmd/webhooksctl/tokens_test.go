package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
)

var tokenLine = regexp.MustCompile(`^wht_([0-9a-f]{16})_[A-Za-z0-9_-]{43}\n$`)

// TestTokens: create prints the token once, alone on stdout; the bucket
// holds only its digest; list shows scope and last use, never the token;
// a revoked token no longer authenticates.
func TestTokens(t *testing.T) {
	s := jstest.Server(t) // no bucket yet
	_, js := jstest.Connect(t, s)
	t.Setenv("NATS_URL", s.ClientURL())
	t.Setenv("LOG_LEVEL", "info")
	r := ctl(t, "", "tokens", "list").want(t, 0)
	if !strings.Contains(r.stdout, "No API tokens yet") {
		t.Errorf("list on an empty server = %q", r.stdout)
	}
	r = ctl(t, "", "tokens", "create", "--name", "acme portal", "--org", "org_a", "--replay").want(t, 0)
	m := tokenLine.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("create stdout = %q, want the token alone on one line", r.stdout)
	}
	token, id := strings.TrimSpace(r.stdout), m[1]
	if !strings.Contains(r.stderr, "ONCE") || strings.Contains(r.stderr, token) {
		t.Errorf("create stderr = %q: want a warning and no token", r.stderr)
	}
	ctl(t, "", "tokens", "create", "--name", "on-call", "--operator").want(t, 0)

	// Only the digest is stored.
	ctx := jstest.Context(t, 10*time.Second)
	kv, err := js.KeyValue(ctx, "WEBHOOKS_API_TOKENS")
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(ctx, id)
	if err != nil || strings.Contains(string(entry.Value()), token) || strings.Contains(string(entry.Value()), token[21:]) {
		t.Fatalf("stored record %q (%v) holds the token", entry.Value(), err)
	}
	p, err := apitoken.NewStore(kv, apitoken.StoreOptions{}).Authenticate(ctx, token)
	if err != nil || p.OrgID != "org_a" || !p.Replay {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}

	r = ctl(t, "", "tokens", "list").want(t, 0)
	for _, want := range []string{id, "acme portal", "org org_a (may replay)", "on-call", "operator"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list lacks %q:\n%s", want, r.stdout)
		}
	}
	r = ctl(t, "", "tokens", "list", "--json").want(t, 0)
	var recs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 2 {
		t.Fatalf("list --json = %s (%v)", r.stdout, err)
	}
	if _, digest := recs[0]["sha256"]; recs[0]["last_used_at"] == nil || digest {
		t.Errorf("list --json record %v: want its last use and no digest", recs[0])
	}

	ctl(t, "n\n", "tokens", "revoke", id).want(t, 1)
	ctl(t, "", "tokens", "revoke", id, "--yes").want(t, 0)
	if _, err := apitoken.NewStore(kv, apitoken.StoreOptions{}).Authenticate(ctx, token); err == nil {
		t.Fatal("a revoked token still authenticates")
	}
	if r := ctl(t, "", "tokens", "revoke", id, "--yes").want(t, 1); !strings.Contains(r.err.Error(), "no token") {
		t.Errorf("second revoke: %v", r.err)
	}
}

func TestTokensUsage(t *testing.T) {
	for _, args := range [][]string{
		{"tokens"}, {"tokens", "mint"},
		{"tokens", "create", "--org", "org_a"},
		{"tokens", "create", "--name", "x"},
		{"tokens", "create", "--name", "x", "--operator", "--org", "org_a"},
		{"tokens", "create", "--name", "x", "--operator", "--replay"},
		{"tokens", "create", "--name", "x", "--org", "a.b"},
		{"tokens", "revoke"}, {"tokens", "revoke", "NOT-AN-ID"},
	} {
		ctl(t, "", args...).want(t, 2)
	}
}
