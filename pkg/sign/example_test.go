package sign_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

// ExampleHeader signs one delivery attempt. The deliverer does this afresh
// for every attempt, with the send time and the exact bytes it sends.
func ExampleHeader() {
	secret := "whsec_test_secret_123" // real secrets look like sk_whsec_<64 hex>
	body := []byte(`{"id":"evt_1","type":"job.completed","data":{"job_id":"j1","status":"ok"}}`)
	t := int64(1700000000) // time.Now().Unix() in production

	req, _ := http.NewRequest(http.MethodPost, "https://example.com/hooks", bytes.NewReader(body))
	req.Header.Set(sign.HeaderName, sign.Header(t, body, secret))
	fmt.Println(sign.HeaderName + ": " + req.Header.Get(sign.HeaderName))

	// During a rotation: new secret first, old second.
	rotated := sign.Header(t, body, "sk_whsec_<new>", "sk_whsec_<old>")
	fmt.Println("v1 segments during rotation:", strings.Count(rotated, ",v1="))
	// Output:
	// Sixtyfour-Signature: t=1700000000,v1=d375345f515da627e0b7a8bba8f32d7c8dc8b676580779b93a1ef8dcbf2acebe
	// v1 segments during rotation: 2
}

// verifyingHandler is what a Go receiver copies: read the raw body (capped),
// verify before parsing JSON, answer 400 on a bad signature and 2xx quickly
// otherwise. secrets holds the current secret and, during a rotation, the
// previous one.
func verifyingHandler(secrets []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		err = sign.Verify(r.Header.Get(sign.HeaderName), body, secrets, time.Now(), sign.DefaultTolerance)
		if err != nil {
			http.Error(w, "invalid signature", http.StatusBadRequest)
			return
		}
		// Signature verified: now parse body as JSON, dedupe on the
		// Sixtyfour-Event-Id header, hand off the work, and return.
		w.WriteHeader(http.StatusNoContent)
	})
}

// ExampleVerify drives a receiving http.Handler with httptest: a correctly
// signed delivery is accepted, a tampered, stale or unsigned one is refused.
func ExampleVerify() {
	secret := "sk_whsec_000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	handler := verifyingHandler([]string{secret})

	send := func(name string, body []byte, header string) {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/sixtyfour", bytes.NewReader(body))
		if header != "" {
			req.Header.Set(sign.HeaderName, header)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Printf("%s: %d\n", name, rec.Code)
	}

	body := []byte(`{"task_id":"t_1","status":"completed"}`)
	now := time.Now().Unix()
	send("valid", body, sign.Header(now, body, secret))
	send("tampered", []byte(`{"task_id":"t_1","status":"failed"}`), sign.Header(now, body, secret))
	send("stale", body, sign.Header(now-301, body, secret))
	send("unsigned", body, "")
	// Output:
	// valid: 204
	// tampered: 400
	// stale: 400
	// unsigned: 400
}
