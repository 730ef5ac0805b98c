package examples_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

// Outcomes every verifier reports. The Python and Node verifiers print
// "ok" or "fail: <reason>", where reason starts with one of the fail values.
const (
	ok          = "ok"
	failMissing = "missing signature header"
	failMalform = "malformed signature header"
	failTime    = "timestamp outside tolerance"
	failNoMatch = "no matching signature"
)

const (
	now           = int64(1700000000)
	scriptTimeout = 60 * time.Second // generous: CI machines can be loaded
)

// checkInput is the JSON the scripts' "check" mode reads on stdin.
type checkInput struct {
	Header  string   `json:"header"`
	BodyB64 string   `json:"body_b64"`
	Secrets []string `json:"secrets"`
	Now     int64    `json:"now"`
}

type verifyCase struct {
	name    string
	header  string
	body    []byte
	secrets []string
	want    string
}

func cases(t *testing.T) []verifyCase {
	t.Helper()
	secretNew := mustSecret(t, 0x11)
	secretOld := mustSecret(t, 0x22)
	secretOther := mustSecret(t, 0x33)
	body := []byte(`{"task_id":"t_1","status":"completed","task_type":"find_email","result":{"email":"a@b.c"}}`)
	binary := []byte{0x00, 0xff, 0xfe, '"', '\n', 0xc3, 0x28, 0x80} // not valid UTF-8
	katBody := []byte(`{"id":"evt_1","type":"job.completed","data":{"job_id":"j1","status":"ok"}}`)
	single := sign.Header(now, body, secretNew)
	dual := sign.Header(now, body, secretNew, secretOld)
	v1 := sign.Compute(secretNew, now, body)
	return []verifyCase{
		{name: "known answer", header: "t=1700000000,v1=d375345f515da627e0b7a8bba8f32d7c8dc8b676580779b93a1ef8dcbf2acebe",
			body: katBody, secrets: []string{"whsec_test_secret_123"}, want: ok},
		{name: "single signed", header: single, body: body, secrets: []string{secretNew}, want: ok},
		{name: "dual signed, receiver has both", header: dual, body: body, secrets: []string{secretNew, secretOld}, want: ok},
		{name: "dual signed, receiver has only new", header: dual, body: body, secrets: []string{secretNew}, want: ok},
		{name: "dual signed, receiver has only old", header: dual, body: body, secrets: []string{secretOld}, want: ok},
		{name: "binary body", header: sign.Header(now, binary, secretNew), body: binary, secrets: []string{secretNew}, want: ok},
		{name: "empty body", header: sign.Header(now, nil, secretNew), body: nil, secrets: []string{secretNew}, want: ok},
		{name: "v0 ignored", header: "t=1700000000,v0=00,v1=" + v1, body: body, secrets: []string{secretNew}, want: ok},
		{name: "exactly 300s old", header: sign.Header(now-300, body, secretNew), body: body, secrets: []string{secretNew}, want: ok},
		{name: "tampered body", header: single, body: bytes.Replace(body, []byte("completed"), []byte("failed"), 1),
			secrets: []string{secretNew}, want: failNoMatch},
		{name: "re-serialised body", header: single, body: bytes.ReplaceAll(body, []byte(":"), []byte(": ")),
			secrets: []string{secretNew}, want: failNoMatch},
		{name: "wrong secret", header: single, body: body, secrets: []string{secretOther}, want: failNoMatch},
		{name: "dual signed, third secret", header: dual, body: body, secrets: []string{secretOther}, want: failNoMatch},
		{name: "non-ASCII v1", header: "t=1700000000,v1=\u00e9" + v1[2:], body: body, secrets: []string{secretNew}, want: failNoMatch},
		{name: "stale 301s", header: sign.Header(now-301, body, secretNew), body: body, secrets: []string{secretNew}, want: failTime},
		{name: "future 301s", header: sign.Header(now+301, body, secretNew), body: body, secrets: []string{secretNew}, want: failTime},
		{name: "negative t", header: sign.Header(-5, body, secretNew), body: body, secrets: []string{secretNew}, want: failTime},
		{name: "missing header", header: "", body: body, secrets: []string{secretNew}, want: failMissing},
		{name: "no v1", header: "t=1700000000", body: body, secrets: []string{secretNew}, want: failMalform},
		{name: "duplicate t", header: "t=1700000000,t=1700000000,v1=" + v1, body: body, secrets: []string{secretNew}, want: failMalform},
		{name: "t with plus sign", header: "t=+1700000000,v1=" + v1, body: body, secrets: []string{secretNew}, want: failMalform},
		{name: "empty segment", header: "t=1700000000,,v1=" + v1, body: body, secrets: []string{secretNew}, want: failMalform},
		{name: "garbage", header: "garbage", body: body, secrets: []string{secretNew}, want: failMalform},
	}
}

// mustSecret makes a well-formed secret from a deterministic reader.
func mustSecret(t *testing.T, fill byte) string {
	t.Helper()
	s, err := sign.GenerateSecret(bytes.NewReader(bytes.Repeat([]byte{fill}, 32)))
	if err != nil {
		t.Fatalf("GenerateSecret() error = %v", err)
	}
	return s
}

func TestGoVerify(t *testing.T) {
	for _, tc := range cases(t) {
		t.Run(tc.name, func(t *testing.T) {
			err := sign.Verify(tc.header, tc.body, tc.secrets, time.Unix(now, 0), sign.DefaultTolerance)
			if got := outcome(err); got != tc.want {
				t.Errorf("sign.Verify() = %v, outcome %q, want %q", err, got, tc.want)
			}
		})
	}
}

// outcome maps a sign.Verify error to the verifiers' shared vocabulary.
func outcome(err error) string {
	switch {
	case err == nil:
		return ok
	case errors.Is(err, sign.ErrMissingHeader):
		return failMissing
	case errors.Is(err, sign.ErrMalformedHeader):
		return failMalform
	case errors.Is(err, sign.ErrTimestampOutOfTolerance):
		return failTime
	case errors.Is(err, sign.ErrNoMatchingSignature):
		return failNoMatch
	}
	return "unexpected: " + err.Error()
}

func TestPythonVerify(t *testing.T) {
	testScript(t, "python3", filepath.Join("python", "verify.py"), "-c", "import sys; print(sys.executable)")
}

func TestNodeVerify(t *testing.T) {
	testScript(t, "node", filepath.Join("node", "verify.js"), "-e", "console.log(process.execPath)")
}

// testScript runs "<bin> <script> check" once per case, one at a time.
// printExe are interpreter arguments that print its real path, so that
// version-manager shims (pyenv, nvm) are paid for once, not per case.
func testScript(t *testing.T, bin, script string, printExe ...string) {
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("%s not found in PATH; skipping the %s verifier (%v)", bin, script, err)
	}
	path = realInterpreter(t, path, printExe)
	for _, tc := range cases(t) {
		t.Run(tc.name, func(t *testing.T) {
			in, err := json.Marshal(checkInput{
				Header:  tc.header,
				BodyB64: base64.StdEncoding.EncodeToString(tc.body),
				Secrets: tc.secrets,
				Now:     now,
			})
			if err != nil {
				t.Fatal(err)
			}
			out, code := runCheck(t, path, script, in)
			if code != 0 {
				t.Fatalf("%s %s check exited %d, want 0; output:\n%s", bin, script, code, out)
			}
			got := strings.TrimSpace(out)
			if tc.want == ok && got != ok {
				t.Errorf("%s check = %q, want %q", bin, got, ok)
			}
			if tc.want != ok && !strings.HasPrefix(got, "fail: "+tc.want) {
				t.Errorf("%s check = %q, want prefix %q", bin, got, "fail: "+tc.want)
			}
		})
	}
	t.Run("usage error", func(t *testing.T) {
		if _, code := runCheck(t, path, script, []byte("not json")); code != 2 {
			t.Errorf("%s check with bad JSON exited %d, want 2", bin, code)
		}
	})
}

// realInterpreter asks the interpreter at path for its own executable and
// falls back to path if that fails.
func realInterpreter(t *testing.T, path string, printExe []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), scriptTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, printExe...).Output()
	if exe := strings.TrimSpace(string(out)); err == nil && filepath.IsAbs(exe) {
		return exe
	}
	return path
}

// runCheck returns the combined output and the exit code of one "check" run.
func runCheck(t *testing.T, path, script string, stdin []byte) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, script, "check")
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), 0
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		return stdout.String() + stderr.String(), exitErr.ExitCode()
	}
	t.Fatalf("%s %s check: %v (context: %v); stderr:\n%s", path, script, err, ctx.Err(), stderr.String())
	return "", -1
}
