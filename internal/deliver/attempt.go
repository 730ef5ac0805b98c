package deliver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/version"
	"github.com/sixtyfour-oss/webhooks/pkg/egress"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/retry"
	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

// Header names of a delivery.
const (
	HeaderEventID   = "Sixtyfour-Event-Id"
	HeaderEventType = "Sixtyfour-Event-Type"
	HeaderAttempt   = "Sixtyfour-Delivery-Attempt"
)

// result is what one attempt produced.
type result struct {
	outcome  retry.Outcome
	sent     bool // the request went out (a connection was attempted)
	sentAt   time.Time
	duration time.Duration
	excerpt  string
	// header and body are the request's header fields and body, set when
	// it was sent (kept by reference, for the attempt record).
	header http.Header
	body   []byte
}

// attempt signs and POSTs one attempt. It sends nothing when the
// organization has a secret that cannot be used (fail closed).
func (d *Deliverer) attempt(ctx context.Context, req *envelope.Request, attempt int, signLink bool) result {
	now := d.cfg.Now()
	res := result{sentAt: now}
	secrets, err := d.secrets.Signing(req.OrgID, now)
	if err != nil {
		res.outcome = retry.Outcome{Kind: retry.KindSigningUnavailable, Err: err}
		return res
	}
	a := envelope.Attempt{Number: attempt, SentAt: now}
	if signLink {
		link := d.cfg.Links.Signer.URL(req.Workflow.ResultsObject, now)
		a.DownloadURL = &link
	}
	body, err := req.Render(a)
	if err != nil {
		res.outcome = retry.Outcome{Kind: retry.KindInvalidRequest, Err: err}
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, req.Timeout())
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(body))
	if err != nil {
		res.outcome = retry.Outcome{Kind: retry.KindInvalidRequest, Err: err}
		return res
	}
	h := hreq.Header
	for k, v := range req.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", version.UserAgent)
	h.Set(HeaderEventID, req.EventID)
	h.Set(HeaderEventType, req.EventType)
	h.Set(HeaderAttempt, strconv.Itoa(attempt))
	if len(secrets) > 0 {
		h.Set(sign.HeaderName, sign.Header(now.Unix(), body, secrets...))
	}

	res.sent, res.header, res.body = true, h, body
	resp, err := d.client.Do(hreq)
	if err != nil {
		res.duration = time.Since(now)
		res.outcome = classify(ctx, err)
		res.outcome.Err = redactURLError(res.outcome.Err)
		d.metrics.Attempt(res.outcome.Kind.String(), res.duration.Seconds())
		return res
	}
	excerpt, readErr := readExcerpt(resp.Body)
	resp.Body.Close()
	res.duration = time.Since(now)
	res.excerpt = excerpt
	res.outcome = retry.Outcome{Kind: retry.KindResponse, StatusCode: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		res.outcome.RetryAfter = retryAfter(resp.Header, now.Add(res.duration))
	}
	d.metrics.Attempt(strconv.Itoa(resp.StatusCode/100)+"xx", res.duration.Seconds())
	if readErr != nil && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		res.outcome.Err = readErr
	}
	return res
}

// excerptBuffers hold the start of response bodies while they are read.
var excerptBuffers = sync.Pool{New: func() any { return new([envelope.MaxResponseExcerpt]byte) }}

// readExcerpt keeps the first MaxResponseExcerpt bytes of a response body
// and discards up to DefaultBodyDrainLimit more, so that the connection can
// be reused; it never reads an endless body to its end.
func readExcerpt(body io.Reader) (string, error) {
	bp := excerptBuffers.Get().(*[envelope.MaxResponseExcerpt]byte)
	defer excerptBuffers.Put(bp)
	buf := bp[:]
	n, err := io.ReadFull(body, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	} else if err == nil {
		_, err = io.CopyN(io.Discard, body, DefaultBodyDrainLimit)
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	return envelope.Excerpt(buf[:n]), err
}

// classify maps a transport error to an outcome kind.
func classify(ctx context.Context, err error) retry.Outcome {
	var (
		netErr    net.Error
		recordErr tls.RecordHeaderError
		alertErr  tls.AlertError
		verifyErr *tls.CertificateVerificationError
		authErr   x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		certErr   x509.CertificateInvalidError
	)
	switch {
	case egress.IsRefused(err):
		return retry.Outcome{Kind: retry.KindRefused, Err: err}
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || errors.As(err, &netErr) && netErr.Timeout():
		return retry.Outcome{Kind: retry.KindTimeout, Err: err}
	case errors.As(err, &recordErr), errors.As(err, &alertErr), errors.As(err, &verifyErr),
		errors.As(err, &authErr), errors.As(err, &hostErr), errors.As(err, &certErr):
		return retry.Outcome{Kind: retry.KindTLS, Err: err}
	default:
		return retry.Outcome{Kind: retry.KindConnection, Err: err}
	}
}
