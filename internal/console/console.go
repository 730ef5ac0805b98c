// Package console is the operators' web console: an http.Handler of
// server-rendered pages over the delivery log, the undelivered stream and
// the signing secrets. It reads; it replays, purges and rolls secrets only
// on a confirmed POST.
//
// People sign in with an API token (internal/apitoken): an operator token
// sees every organization, an organization token only its own. Every scope
// decision is the Principal's (OrgFilter, Sees, MayReplay, MayManage), the
// same methods the HTTP APIs ask; another organization's data answers as if
// it did not exist (404, never 403). Sessions live in memory, behind an
// HttpOnly, SameSite=Strict cookie, and the session's token is
// authenticated again on every request, so a revoked token ends its
// sessions at once.
//
// Pages work with JavaScript off: full server-rendered pages, real links,
// GET filter forms, a meta refresh on a running job. htmx 2 (embedded,
// never from a CDN) only enhances: filter forms and paging swap the page's
// <main> (hx-select, so the server always renders whole pages), and a job
// polls its progress. Every response carries a strict
// Content-Security-Policy (ContentSecurityPolicy): no inline script or
// style, so htmx is configured by a meta element not to inject its
// indicator <style>, not to eval, not to run scripts in swapped content,
// and not to copy pages into sessionStorage (a page may show a new
// secret). Everything a store or a receiver wrote is escaped by
// html/template; nothing is marked safe HTML.
//
// This package reads no environment and owns no JetStream resource: it is
// given the authenticator, the log store and a JetStream context.
package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/adminapi"
	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Session and sign-in limits.
const (
	// CookieName is the session cookie.
	CookieName = "webhooks_console"
	// IdleTimeout ends a session this long after its last request.
	IdleTimeout = time.Hour
	// AbsoluteTimeout ends a session this long after its sign-in, however
	// busy it is.
	AbsoluteTimeout = 12 * time.Hour
	// BadSignInBurst is how many bad sign-ins one client address may make
	// at once; they are earned back at BadSignInBurst per BadSignInWindow.
	// Beyond that, sign-ins from the address are answered 429 without the
	// token being checked.
	BadSignInBurst = 10
	// BadSignInWindow is the window of BadSignInBurst.
	BadSignInWindow = time.Minute
	// JobRetention is how long a finished replay or purge job's page stays.
	JobRetention = time.Hour
	// MaxRunningJobs bounds the jobs one principal runs at once.
	MaxRunningJobs = 4
)

// ErrInvalidConfig wraps every Config validation error.
var ErrInvalidConfig = errors.New("console: invalid config")

// Config is what the console needs. Auth, Log and JS are required.
type Config struct {
	// Auth checks the token given at sign-in (operator or organization
	// token), and again on every request of its session. Required.
	Auth *apitoken.Authenticator
	// Log is the delivery log. Required. When it also has the method
	// Hosts(ctx, orgID, from, to, limit) ([]logstore.HostStat, error), the
	// overview shows the slowest hosts and open circuits.
	Log logstore.Store
	// JS reads the undelivered stream, the deliverers' consumer lag, and
	// replays. Required.
	JS jetstream.JetStream
	// Streams names the streams and the consumer; zero fields default
	// (streams.Config.WithDefaults).
	Streams streams.Config
	// Secrets runs the signing-secret lifecycle. nil hides the secrets
	// page. A manager without a master key still shows secrets; create
	// and roll then say that no master key is configured.
	Secrets adminapi.SecretManager
	// History is passed to undelivered.ReplayOptions.History, so that a
	// replay run again after the dedupe window does not publish twice. May
	// be nil.
	History func(ctx context.Context, orgID, eventID string) (*envelope.Outcome, error)
	// Logger receives one line per sign-in, sign-out, replay, purge and
	// secret change (never a token or a secret). The zero value logs
	// nothing.
	Logger zerolog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Context bounds the background jobs (replays, purges): they are
	// cancelled when it ends, not when the request that started them does.
	// Defaults to context.Background(), with which jobs run to their end.
	Context context.Context
}

// validate checks a defaulted config; errors name the field.
func (c Config) validate() error {
	switch {
	case c.Auth == nil:
		return fmt.Errorf("%w: Auth is required", ErrInvalidConfig)
	case c.Log == nil:
		return fmt.Errorf("%w: Log is required", ErrInvalidConfig)
	case c.JS == nil:
		return fmt.Errorf("%w: JS is required", ErrInvalidConfig)
	}
	if err := c.Streams.Validate(); err != nil {
		return fmt.Errorf("%w: Streams: %w", ErrInvalidConfig, err)
	}
	return nil
}

// console is the handler's state.
type console struct {
	cfg      Config
	log      zerolog.Logger
	now      func() time.Time
	pages    *pages
	assets   *assets
	sessions *sessions
	limiter  *signInLimiter
	jobs     *jobs
	charts   *chartCache
}

// New returns the console. Mount it at the root of its own listener (its
// links and cookie are absolute from "/"). Errors wrap ErrInvalidConfig,
// or report embedded templates that do not parse.
func New(cfg Config) (http.Handler, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	cfg.Streams = cfg.Streams.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	as, err := loadAssets()
	if err != nil {
		return nil, err
	}
	pg, err := loadPages(as)
	if err != nil {
		return nil, err
	}
	c := &console{
		cfg: cfg, log: cfg.Logger, now: cfg.Now,
		pages: pg, assets: as, sessions: newSessions(cfg.Now), limiter: newSignInLimiter(cfg.Now),
		jobs: newJobs(cfg.Context, cfg.Now), charts: newChartCache(),
	}
	return c.routes(), nil
}

// routes returns the console's mux behind its security headers and the
// cross-origin check of every state-changing request.
func (c *console) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /assets/{hash}/{name}", c.assets)
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.signIn)
	mux.HandleFunc("POST /logout", c.signOut)

	mux.Handle("GET /{$}", c.authed(c.overview))
	mux.Handle("GET /deliveries", c.authed(c.deliveries))
	mux.Handle("GET /events/{event_id}", c.authed(c.event))
	mux.Handle("GET /undelivered", c.authed(c.undeliveredList))
	mux.Handle("GET /undelivered/{event_id}", c.authed(c.undeliveredShow))
	mux.Handle("POST /undelivered/replay", c.authed(c.replayReview))
	mux.Handle("POST /undelivered/replay/confirm", c.authed(c.replayConfirm))
	mux.Handle("POST /undelivered/purge", c.authed(c.purgeReview))
	mux.Handle("POST /undelivered/purge/confirm", c.authed(c.purgeConfirm))
	mux.Handle("GET /jobs/{id}", c.authed(c.jobPage))
	mux.Handle("POST /jobs/{id}/cancel", c.authed(c.jobCancel))
	if c.cfg.Secrets != nil {
		mux.Handle("GET /secrets", c.authed(c.secretsPage))
		mux.Handle("POST /secrets/create", c.authed(c.secretCreate))
		mux.Handle("POST /secrets/roll", c.authed(c.secretRoll))
		mux.Handle("POST /secrets/delete", c.authed(c.secretDeleteReview))
		mux.Handle("POST /secrets/delete/confirm", c.authed(c.secretDelete))
	}
	mux.HandleFunc("/", c.notFoundAnywhere)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.log.Warn().Str("path", r.URL.Path).Str("origin", r.Header.Get("Origin")).
			Str("sec_fetch_site", r.Header.Get("Sec-Fetch-Site")).Msg("cross-origin request refused")
		c.errorPage(w, r, nil, http.StatusForbidden, "Refused", "This request came from another site and was refused.")
	}))
	return securityHeaders(limitBody(cop.Handler(mux)))
}

// notFoundAnywhere answers every path no route matched: the 404 page,
// with the header of a signed-in session when there is one.
func (c *console) notFoundAnywhere(w http.ResponseWriter, r *http.Request) {
	s, _ := c.currentSession(r)
	c.notFound(w, r, s)
}
