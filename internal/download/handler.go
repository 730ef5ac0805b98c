package download

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/pkg/results"
)

// StreamTimeout bounds one download, from the request to the last byte. The
// handler extends the server's write deadline to it (an http.Server
// WriteTimeout would otherwise cut large downloads short) and gives the
// store read the same deadline (without one, the NATS client would stop a
// read after its 5 s API timeout).
const StreamTimeout = 15 * time.Minute

// handler serves signed downloads; see Handler.
type handler struct {
	obs    jetstream.ObjectStore
	signer Signer
	log    zerolog.Logger
}

// Handler serves GET and HEAD <PathPrefix><escaped key>?exp=…&sig=… from
// obs. Mount it at PathPrefix (it reads the full request path). Answers:
//   - 403 (JSON error) when the URL is malformed, its signature is not s's
//     (altered, or signed with another key) or it has expired. The store
//     is not touched before the signature is verified.
//   - 404 (JSON error) when the object does not exist (or has aged out).
//   - 200 streaming the object from the store as it arrives (never whole in
//     memory), with Content-Type from the object's headers or else its
//     extension (.csv: text/csv; charset=utf-8, .json: application/json),
//     Content-Length, Content-Disposition: attachment; filename="<base>",
//     Cache-Control: private, no-store.
//   - 405 for other methods, 503 when the store cannot be read.
//
// Pass a *results.Bucket (results.OpenBucket) as obs: its Get holds one chunk per download,
// where jetstream's own ObjectStore.Get lets the NATS client buffer many
// MiB per slow download (Handler logs a warning for any other store).
//
// Each request is logged once (key, status, reason, bytes, duration_ms);
// the signature and the query are never logged. Handler panics when obs is
// nil or s.Key is shorter than MinKeyLength: commands validate the
// configuration before building it.
func Handler(obs jetstream.ObjectStore, s Signer, log zerolog.Logger) http.Handler {
	if obs == nil {
		panic("download: Handler with a nil ObjectStore")
	}
	if err := s.checkKey(); err != nil {
		panic("download: Handler: " + err.Error())
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	log = log.With().Str("component", "download").Logger()
	if _, ok := obs.(*results.Bucket); !ok {
		log.Warn().Msg("results store is not a *results.Bucket: each slow download may buffer tens of MiB in memory")
	}
	return &handler{obs: obs, signer: s, log: log}
}

// ServeHTTP checks method, path and signature, then serves the object.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpapi.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET or HEAD")
		return
	}
	key, ok := objectKey(r.URL)
	if !ok {
		h.done(r, key, httpapi.WriteError(w, http.StatusNotFound, "not_found", "no such download"), "bad path", 0, start)
		return
	}
	q := r.URL.Query()
	if err := h.signer.Verify(key, q.Get("exp"), q.Get("sig"), h.signer.Now()); err != nil {
		msg := "invalid download link"
		if errors.Is(err, ErrExpired) {
			msg = "download link expired; request a new one"
		}
		h.done(r, key, httpapi.WriteError(w, http.StatusForbidden, "forbidden", msg), err.Error(), 0, start)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), StreamTimeout)
	defer cancel()
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(StreamTimeout))
	if r.Method == http.MethodHead {
		info, err := h.obs.GetInfo(ctx, key)
		if err != nil {
			h.storeError(w, r, key, err, start)
			return
		}
		setHeaders(w, key, info)
		w.WriteHeader(http.StatusOK)
		h.done(r, key, http.StatusOK, "", 0, start)
		return
	}
	h.stream(ctx, w, r, key, start)
}

// stream copies the object to w chunk by chunk.
func (h *handler) stream(ctx context.Context, w http.ResponseWriter, r *http.Request, key string, start time.Time) {
	obj, err := h.obs.Get(ctx, key)
	if err != nil {
		h.storeError(w, r, key, err, start)
		return
	}
	defer obj.Close()
	info, err := obj.Info()
	if err != nil || info == nil {
		h.storeError(w, r, key, errors.Join(errors.New("no object info"), err), start)
		return
	}
	setHeaders(w, key, info)
	w.WriteHeader(http.StatusOK)
	n, err := io.Copy(w, obj)
	reason := ""
	if err != nil {
		// Headers are out: the short body (under Content-Length) makes the
		// server close the connection, so the client sees the failure.
		reason = "stream interrupted: " + err.Error()
	}
	h.done(r, key, http.StatusOK, reason, n, start)
}

// storeError answers 404 for a missing object, 503 otherwise.
func (h *handler) storeError(w http.ResponseWriter, r *http.Request, key string, err error, start time.Time) {
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		h.done(r, key, httpapi.WriteError(w, http.StatusNotFound, "not_found", "no such download (it may have expired)"), "object not found", 0, start)
		return
	}
	h.done(r, key, httpapi.WriteError(w, http.StatusServiceUnavailable, "unavailable", "results store unavailable; retry"), err.Error(), 0, start)
}

// done logs one line per request. Never the query: it holds the signature.
func (h *handler) done(r *http.Request, key string, status int, reason string, n int64, start time.Time) {
	ev := h.log.Info()
	if status >= 500 || strings.HasPrefix(reason, "stream interrupted") {
		ev = h.log.Warn()
	}
	ev.Str("method", r.Method).Str("key", key).Int("status", status).Int64("bytes", n).
		Int64("duration_ms", time.Since(start).Milliseconds())
	if reason != "" {
		ev.Str("reason", reason)
	}
	ev.Msg("download")
}

// objectKey returns the unescaped key after PathPrefix.
func objectKey(u *url.URL) (string, bool) {
	rest, ok := strings.CutPrefix(u.EscapedPath(), PathPrefix)
	if !ok || rest == "" {
		return "", false
	}
	key, err := url.PathUnescape(rest)
	if err != nil || key == "" {
		return "", false
	}
	return key, true
}

// setHeaders sets the headers of a 200 answer for the object.
func setHeaders(w http.ResponseWriter, key string, info *jetstream.ObjectInfo) {
	h := w.Header()
	h.Set("Content-Type", contentType(key, info))
	h.Set("Content-Length", strconv.FormatUint(info.Size, 10))
	h.Set("Content-Disposition", `attachment; filename="`+fileName(key)+`"`)
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// contentType is the object's own Content-Type header, else one from the
// key's extension.
func contentType(key string, info *jetstream.ObjectInfo) string {
	if ct := info.Headers.Get("Content-Type"); ct != "" {
		return ct
	}
	switch strings.ToLower(path.Ext(key)) {
	case ".csv":
		return "text/csv; charset=utf-8"
	case ".json":
		return "application/json"
	default:
		return "application/octet-stream"
	}
}

// fileName is the key's base name, with every byte that could break the
// quoted header value (quotes, backslashes, controls, non-ASCII) as "_".
func fileName(key string) string {
	b := []byte(path.Base(key))
	for i, c := range b {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b[i] = '_'
		}
	}
	return string(b)
}
