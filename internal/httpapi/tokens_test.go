package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
)

func TestRequire(t *testing.T) {
	h := httpapi.NewTokens([]string{"s3cret"}).Require(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	for auth, want := range map[string]int{"Bearer s3cret": http.StatusNoContent, "Bearer other": http.StatusUnauthorized, "": http.StatusUnauthorized} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Authorization %q: status %d, want %d", auth, rec.Code, want)
		}
	}
}
