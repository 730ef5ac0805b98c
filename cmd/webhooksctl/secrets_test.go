package main

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/secrets"
)

var secretLine = regexp.MustCompile(`^sk_whsec_[0-9a-f]{64}\n$`)

func TestSecrets(t *testing.T) {
	newEnv(t)
	t.Setenv("WEBHOOKS_MASTER_KEY", "k1:"+base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	t.Setenv("WEBHOOKS_DEV_MODE", "false")
	var plaintexts []string
	var logs strings.Builder // every stderr, and every stdout but the secret lines
	check := func(r result) result {
		logs.WriteString(r.stderr)
		return r
	}

	r := check(ctl(t, "", "secrets", "create", "--org", "org_a").want(t, 0))
	if !secretLine.MatchString(r.stdout) {
		t.Fatalf("create stdout = %q, want the secret alone on one line", r.stdout)
	}
	plaintexts = append(plaintexts, strings.TrimSpace(r.stdout))
	if !strings.Contains(r.stderr, "will not be shown again") {
		t.Errorf("create gives no warning:\n%s", r.stderr)
	}

	r = check(ctl(t, "", "secrets", "roll", "--org", "org_a", "--overlap-hours", "2").want(t, 0))
	if !secretLine.MatchString(r.stdout) || strings.TrimSpace(r.stdout) == plaintexts[0] {
		t.Fatalf("roll stdout = %q, want a new secret alone on one line", r.stdout)
	}
	plaintexts = append(plaintexts, strings.TrimSpace(r.stdout))

	r = check(ctl(t, "", "secrets", "show", "--org", "org_a").want(t, 0))
	logs.WriteString(r.stdout)
	for _, s := range []string{"PREVIEW", "active", "expiring", "sk_whsec_••••…" + plaintexts[1][len(plaintexts[1])-4:]} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("show lacks %q:\n%s", s, r.stdout)
		}
	}
	r = check(ctl(t, "", "secrets", "show", "--org", "org_a", "--json").want(t, 0))
	logs.WriteString(r.stdout)
	var metas []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &metas); err != nil || len(metas) != 2 || metas[1]["expires_at"] == nil {
		t.Errorf("show --json = %s (%v), want 2 secrets, the old one expiring", r.stdout, err)
	}

	r = check(ctl(t, "n\n", "secrets", "delete", "--org", "org_a").want(t, 1))
	if !strings.Contains(r.stderr, "[y/N]") || !strings.Contains(r.err.Error(), "aborted") {
		t.Errorf("declined delete: stderr %q, error %v", r.stderr, r.err)
	}
	r = check(ctl(t, "", "secrets", "show", "--org", "org_a").want(t, 0))
	if strings.Count(r.stdout, "revoked") != 0 {
		t.Errorf("a declined delete revoked secrets:\n%s", r.stdout)
	}
	check(ctl(t, "", "secrets", "delete", "--org", "org_a", "--yes").want(t, 0))
	r = check(ctl(t, "", "secrets", "show", "--org", "org_a").want(t, 0))
	logs.WriteString(r.stdout)
	if strings.Count(r.stdout, "revoked") != 2 {
		t.Errorf("after delete, show:\n%s", r.stdout)
	}

	for _, leaked := range plaintexts {
		if strings.Contains(logs.String(), leaked) || strings.Contains(logs.String(), leaked[9:]) {
			t.Errorf("a secret appeared outside its one stdout line:\n%s", logs.String())
		}
	}
}

func TestSecretsBadInput(t *testing.T) {
	newEnv(t)
	t.Setenv("WEBHOOKS_MASTER_KEY", "k1:"+base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))

	r := ctl(t, "", "secrets", "roll", "--org", "org_none").want(t, 1)
	if !strings.Contains(r.err.Error(), "has no signing secret") || r.stdout != "" {
		t.Errorf("roll of an unknown org: stdout %q, error %v", r.stdout, r.err)
	}
	for _, op := range []string{"show", "delete"} {
		r = ctl(t, "", "secrets", op, "--org", "org_none", "--yes").want(t, 1)
		if !strings.Contains(r.err.Error(), "has no signing secret") {
			t.Errorf("%s of an unknown org: error %v", op, r.err)
		}
	}

	t.Setenv("WEBHOOKS_MASTER_KEY", "")
	t.Setenv("WEBHOOKS_DEV_MODE", "false")
	r = ctl(t, "", "secrets", "create", "--org", "org_a").want(t, 1)
	if !strings.Contains(r.err.Error(), "WEBHOOKS_MASTER_KEY") || r.stdout != "" {
		t.Errorf("create without a master key: stdout %q, error %v", r.stdout, r.err)
	}
	r = ctl(t, "", "secrets", "show", "--org", "org_a").want(t, 1) // nothing was created
	if !strings.Contains(r.err.Error(), "has no signing secret") {
		t.Errorf("show after a refused create: error %v", r.err)
	}

	t.Setenv("WEBHOOKS_MASTER_KEY", "k1:not-base64")
	ctl(t, "", "secrets", "create", "--org", "org_a").want(t, 1)
	t.Setenv("WEBHOOKS_MASTER_KEY", "")
	t.Setenv("WEBHOOKS_DEV_MODE", "true")
	r = ctl(t, "", "secrets", "create", "--org", "org_a").want(t, 0)
	if !secretLine.MatchString(r.stdout) || !strings.Contains(r.stderr, "UNSAFE") {
		t.Errorf("dev mode create: stdout %q, stderr %q", r.stdout, r.stderr)
	}
}

func TestSecretsReencrypt(t *testing.T) {
	e := newEnv(t)
	k1 := "k1:" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	k2 := "k2:" + base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	t.Setenv("WEBHOOKS_DEV_MODE", "false")
	t.Setenv("WEBHOOKS_MASTER_KEY", k1)
	ctl(t, "", "secrets", "create", "--org", "org_a").want(t, 0)
	ctl(t, "", "secrets", "create", "--org", "org_b").want(t, 0)

	// Rotate the master key: the new key first, the old one still readable.
	t.Setenv("WEBHOOKS_MASTER_KEY", k2+","+k1)
	r := ctl(t, "", "secrets", "reencrypt").want(t, 0)
	if !strings.Contains(r.stdout, "Rewrote 2 organization records under master key k2") {
		t.Errorf("reencrypt stdout = %q", r.stdout)
	}
	// With only the new key, the deliverer's cache decrypts every secret.
	only2, err := secrets.ParseKeyring(k2)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := secrets.NewCache(e.ctx, e.res.Secrets, only2, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Stop()
	for _, org := range []string{"org_a", "org_b"} {
		if got, err := cache.Signing(org, time.Now()); err != nil || len(got) != 1 {
			t.Errorf("%s under k2 only: %d secrets, %v", org, len(got), err)
		}
	}
	ctl(t, "", "secrets", "reencrypt", "extra").want(t, 2)
}
