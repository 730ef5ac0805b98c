package download_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/download"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/results"
)

// countingStore is the real store with its reads counted, to prove that a
// refused request never reaches it.
type countingStore struct {
	jetstream.ObjectStore
	reads atomic.Int32
}

func (c *countingStore) Get(ctx context.Context, name string, opts ...jetstream.GetObjectOpt) (jetstream.ObjectResult, error) {
	c.reads.Add(1)
	return c.ObjectStore.Get(ctx, name, opts...)
}

func (c *countingStore) GetInfo(ctx context.Context, name string, opts ...jetstream.GetObjectInfoOpt) (*jetstream.ObjectInfo, error) {
	c.reads.Add(1)
	return c.ObjectStore.GetInfo(ctx, name, opts...)
}

// newStore starts a server, creates the results bucket and opens it.
func newStore(t testing.TB) *results.Bucket {
	t.Helper()
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 10*time.Second)
	if _, err := js.CreateOrUpdateObjectStore(ctx, results.BucketConfig("", 1)); err != nil {
		t.Fatal(err)
	}
	b, err := results.OpenBucket(ctx, js, "")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serve runs the handler on an httptest server whose signer uses clock.
func serve(t testing.TB, obs jetstream.ObjectStore, logs io.Writer, now time.Time) (*httptest.Server, download.Signer) {
	t.Helper()
	s := testSigner()
	s.Now = func() time.Time { return now }
	srv := httptest.NewServer(download.Handler(obs, s, zerolog.New(logs)))
	t.Cleanup(srv.Close)
	s.BaseURL = srv.URL
	return srv, s
}

func get(t testing.TB, method, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestHandlerServes(t *testing.T) {
	obs := newStore(t)
	ctx := jstest.Context(t, 10*time.Second)
	csv := "name,email\nJohn Doe,john@acme.com\n"
	csvKey := results.CSVKey("org_1", "run 1", "blk_2")
	rowsKey := results.RowsKey("org_1", "run_1")
	for key, ct := range map[string]string{csvKey: "", rowsKey: "application/json"} {
		if err := results.Put(ctx, obs, key, strings.NewReader(csv), ct); err != nil {
			t.Fatal(err)
		}
	}
	typed := "typed/x.bin"
	if err := results.Put(ctx, obs, typed, strings.NewReader("x"), "application/vnd.custom"); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	_, s := serve(t, obs, &logs, signedAt)
	tests := []struct {
		name, method, key, wantType, wantFile, wantBody string
	}{
		{"csv by extension", http.MethodGet, csvKey, "text/csv; charset=utf-8", "blk_2.csv", csv},
		{"json by header", http.MethodGet, rowsKey, "application/json", "results.json", csv},
		{"type from metadata", http.MethodGet, typed, "application/vnd.custom", "x.bin", "x"},
		{"head", http.MethodHead, csvKey, "text/csv; charset=utf-8", "blk_2.csv", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, tt.method, s.URL(tt.key, signedAt))
			h := resp.Header
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d (%s), want 200", resp.StatusCode, body)
			}
			wantLen := len(tt.wantBody)
			if tt.method == http.MethodHead {
				wantLen = len(csv)
			}
			checks := []struct{ got, want string }{
				{h.Get("Content-Type"), tt.wantType},
				{h.Get("Content-Length"), itoa(wantLen)},
				{h.Get("Content-Disposition"), `attachment; filename="` + tt.wantFile + `"`},
				{h.Get("Cache-Control"), "private, no-store"},
				{string(body), tt.wantBody},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("got %q, want %q", c.got, c.want)
				}
			}
		})
	}
	u := s.URL(csvKey, signedAt)
	if sig := u[strings.Index(u, "sig=")+4:]; strings.Contains(logs.String(), "sig=") || strings.Contains(logs.String(), sig) {
		t.Errorf("logs show a signature: %s", logs.String())
	}
}

func TestHandlerRefuses(t *testing.T) {
	real := newStore(t)
	ctx := jstest.Context(t, 10*time.Second)
	key := results.CSVKey("org_1", "run_1", "blk_2")
	if err := results.Put(ctx, real, key, strings.NewReader("a,b\n"), ""); err != nil {
		t.Fatal(err)
	}
	obs := &countingStore{ObjectStore: real}
	var logs bytes.Buffer
	srv, s := serve(t, obs, &logs, signedAt)
	foreign := s
	foreign.Key = foreignKey
	valid := s.URL(key, signedAt)
	tests := []struct {
		name, url  string
		wantStatus int
		wantReads  int32
	}{
		{"expired", s.URL(key, signedAt.Add(-download.DefaultTTL-time.Second)), http.StatusForbidden, 0},
		{"foreign key", foreign.URL(key, signedAt), http.StatusForbidden, 0},
		{"tampered key", strings.Replace(valid, "org_1", "org_2", 1), http.StatusForbidden, 0},
		{"tampered exp", strings.Replace(valid, "exp=", "exp=1", 1), http.StatusForbidden, 0},
		{"no signature", strings.Split(valid, "?")[0], http.StatusForbidden, 0},
		{"no key", srv.URL + download.PathPrefix + "?exp=1&sig=00", http.StatusNotFound, 0},
		{"missing object", s.URL(results.CSVKey("org_1", "run_1", "blk_9"), signedAt), http.StatusNotFound, 1},
		{"missing object, head", s.URL(results.CSVKey("org_1", "run_1", "blk_9"), signedAt), http.StatusNotFound, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs.reads.Store(0)
			method := http.MethodGet
			if strings.HasSuffix(tt.name, "head") {
				method = http.MethodHead
			}
			resp, body := get(t, method, tt.url)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := obs.reads.Load(); got != tt.wantReads {
				t.Errorf("store reads = %d, want %d", got, tt.wantReads)
			}
			if method == http.MethodGet {
				var e struct{ Error, Message string }
				if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
					t.Errorf("body = %s, want a JSON error", body)
				}
			}
		})
	}
	resp, _ := get(t, http.MethodPost, valid)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d, Allow %q; want 405, GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if sig := valid[strings.Index(valid, "sig=")+4:]; strings.Contains(logs.String(), sig[:16]) {
		t.Errorf("logs show the signature: %s", logs.String())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
