package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

// receiver is the bundled local receiver: it verifies the signature of
// every request with the organization's secret and answers per path:
// /ok always 204, /flaky 503 for the first two attempts of each event then
// 200, /down always 500. It downloads any results_download_url it gets.
type receiver struct {
	secret string
	out    io.Writer
	mu     sync.Mutex
	flaky  map[string]int
	bad    int
}

func newReceiver(secret string, out io.Writer) *receiver {
	return &receiver{secret: secret, out: out, flaky: map[string]int{}}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	verified := "✓ signature verified"
	if err := sign.Verify(r.Header.Get(sign.HeaderName), body, []string{rc.secret}, time.Now(), sign.DefaultTolerance); err != nil {
		verified = "✗ SIGNATURE REJECTED: " + err.Error()
		rc.mu.Lock()
		rc.bad++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		rc.print(r, verified, http.StatusBadRequest)
		return
	}
	code := http.StatusNoContent
	switch r.URL.Path {
	case "/flaky":
		rc.mu.Lock()
		rc.flaky[r.Header.Get("Sixtyfour-Event-Id")]++
		if rc.flaky[r.Header.Get("Sixtyfour-Event-Id")] <= 2 {
			code = http.StatusServiceUnavailable
		} else {
			code = http.StatusOK
		}
		rc.mu.Unlock()
	case "/down":
		code = http.StatusInternalServerError
	}
	w.WriteHeader(code)
	rc.print(r, verified, code)
	rc.fetchLink(body)
}

// fetchLink downloads a workflow run's results_download_url, as a
// customer would, and says what came back. A real receiver would answer
// first and download later; the demo keeps it in order for its output.
func (rc *receiver) fetchLink(body []byte) {
	var env struct {
		URL *string `json:"results_download_url"`
	}
	if json.Unmarshal(body, &env) != nil || env.URL == nil {
		return
	}
	resp, err := http.Get(*env.URL)
	if err != nil {
		fmt.Fprintf(rc.out, "  receiver         download failed: %v\n", err)
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	rc.mu.Lock()
	defer rc.mu.Unlock()
	fmt.Fprintf(rc.out, "  receiver         downloaded results_download_url → %d %s, %d bytes: %q\n",
		resp.StatusCode, resp.Header.Get("Content-Type"), len(data), data)
}

func (rc *receiver) print(r *http.Request, verified string, code int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	fmt.Fprintf(rc.out, "  receiver %-7s attempt %s  %-28s event %s  %s → %d\n",
		r.URL.Path, r.Header.Get("Sixtyfour-Delivery-Attempt"), r.Header.Get("Sixtyfour-Event-Type"),
		short(r.Header.Get("Sixtyfour-Event-Id")), verified, code)
}

// rejected returns how many requests failed verification.
func (rc *receiver) rejected() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.bad
}

// short returns the end of an event id: event ids are UUID version 7,
// whose first digits are the creation time, the same for events made
// together.
func short(id string) string {
	if len(id) > 8 {
		return "…" + id[len(id)-8:]
	}
	return id
}
