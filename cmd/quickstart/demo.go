package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/console"
	"github.com/sixtyfour-oss/webhooks/internal/deliveries"
	"github.com/sixtyfour-oss/webhooks/internal/download"
	"github.com/sixtyfour-oss/webhooks/internal/ingest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/logwriter"
	"github.com/sixtyfour-oss/webhooks/internal/natsconn"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/internal/service"
	"github.com/sixtyfour-oss/webhooks/internal/status"
	"github.com/sixtyfour-oss/webhooks/internal/undeliveredapi"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// demoOrg is the organization the quickstart signs for.
const demoOrg = "org_demo"

func demo(ctx context.Context, o options, out io.Writer) error {
	out = &syncWriter{w: out}
	if err := os.MkdirAll(o.storeDir, 0o755); err != nil {
		return err
	}
	// Settings come from the environment like every command's, then the
	// quickstart's own: an embedded server unless NATS_URL is set, the
	// local receiver allowed, and the development key unless a master key
	// is given.
	var s service.DelivererSettings
	if err := config.Load(&s); err != nil {
		return err
	}
	if s.URL == "" {
		unlock, err := lockDataDir(o.storeDir)
		if err != nil {
			return err
		}
		defer unlock()
	}
	lns, err := bindListeners(o, s.URL == "")
	if err != nil {
		return err
	}
	defer lns.close()
	logPath := filepath.Join(o.storeDir, o.logFile)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()

	base := "http://" + lns.receiver.Addr().String()
	ingestURL := "http://" + lns.publisher.Addr().String()
	demoSettings(&s, o, lns)
	log, err := s.Logger(logFile, "quickstart")
	if err != nil {
		return err
	}
	policy, err := s.Policy()
	if err != nil {
		return err
	}
	destinations, urls, err := s.Destinations()
	if err != nil {
		return err
	}
	s.WarnUnsafe(log, destinations)
	keyring, err := s.Keyring(log)
	if err != nil {
		return err
	}
	signer, _, err := s.DownloadSigner()
	if err != nil {
		return err
	}

	conn, err := natsconn.Open(s.NATS(), "quickstart", log)
	if err != nil {
		return err
	}
	defer conn.Close()
	natsURL, natsAt := s.URL, s.URL
	if conn.Embedded != nil {
		natsURL = conn.Embedded.ClientURL()
		natsAt = natsURL + " (embedded, data in " + o.storeDir + lns.natsNote() + ")"
	}
	sc := ownStreams(s.Streams())
	if err := checkConsumers(ctx, conn.JS, sc, natsAt, conn.Embedded != nil); err != nil {
		return err
	}
	res, err := streams.Ensure(ctx, conn.JS, sc)
	if err != nil {
		return err
	}
	store, stopWriter, err := startLogWriter(ctx, conn, sc, logStoreURL(o), log)
	if err != nil {
		return err
	}
	defer stopWriter()

	mgr := &secrets.Manager{KV: res.Secrets, Keyring: keyring}
	secret, meta, err := mgr.Create(ctx, demoOrg)
	if err != nil {
		return fmt.Errorf("create signing secret: %w", err)
	}
	rc := newReceiver(secret, out)
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(lns.receiver)
	defer srv.Close()

	printBanner(out, banner{natsAt: natsAt, sc: sc, receiver: base, lns: lns, logPath: logPath, logStore: logPathOf(o),
		secret: secret, preview: meta.Preview, schedule: policy.Schedule.String()})
	pub := publish.New(conn.JS, publish.Config{Streams: sc, URLs: urls, Destinations: destinations, Results: res.Results})
	dctx, stopDeliverer := context.WithCancel(ctx)
	delivererDone := make(chan error, 1)
	go func() { delivererDone <- service.RunDelivererOn(dctx, s, sc, conn, lns.ops.Listener, log) }()
	defer func() { stopDeliverer(); <-delivererDone }()

	auth := apitoken.NewAuthenticator(apitoken.NewStore(res.Tokens, apitoken.StoreOptions{}), "quickstart -token", []string{o.token})
	ingestSrv := &http.Server{Handler: apiHandler(o.token, auth, pub, res, store, conn, sc, signer, log), ReadHeaderTimeout: 5 * time.Second}
	go ingestSrv.Serve(lns.publisher)
	defer ingestSrv.Close()
	fmt.Fprintf(out, "  publisher  %s/v1/events (bearer token %q%s)\n", ingestURL, o.token, lns.publisher.note())
	stopConsole, err := serveConsole(ctx, lns.console.Listener, console.Config{Auth: auth, Log: store, JS: conn.JS, Streams: sc, Secrets: mgr,
		History: logstore.History(store), Logger: log.With().Str("component", "console").Logger()})
	if err != nil {
		return err
	}
	defer stopConsole()
	if u := consoleURL(lns); u != "" {
		fmt.Fprintf(out, "  console    %s (sign in with the token %q%s)\n", u, o.token, lns.console.note())
	}
	fmt.Fprintln(out)
	events, err := publishDemo(ctx, pub, res, base)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Published %d events for %s; waiting for their outcomes...\n", len(events), demoOrg)
	budget := 30 * time.Second
	for _, d := range policy.Schedule {
		budget += d
	}
	if err := awaitOutcomes(ctx, store, events, budget, delivererDone); err != nil {
		return err
	}
	printOutcomes(out, events, logPathOf(o))
	printBlockColumns(ctx, out, conn, sc, events)
	printTimeline(ctx, out, store, events[1])
	if n := rc.rejected(); n > 0 {
		return fmt.Errorf("the receiver rejected %d signatures", n)
	}
	if o.exit {
		return nil
	}
	printNextSteps(out, nextSteps{ingestURL: ingestURL, token: o.token, receiver: base, natsURL: natsURL,
		logURL: logPathOf(o), undelivered: events[2].receipt.EventID, consoleURL: consoleURL(lns)})
	select {
	case <-ctx.Done():
	case err := <-delivererDone:
		return fmt.Errorf("deliverer stopped: %w", err)
	}
	return nil
}

// demoSettings applies the quickstart's own settings over the
// environment's: the chosen addresses, the local receiver allowed (plain
// http too), the development key unless a master key is given, the
// -schedule, and download links served next to the ingest API (production
// serves them on their own listener, PUBLISHER_DOWNLOAD_ADDR).
func demoSettings(s *service.DelivererSettings, o options, lns *listeners) {
	receiverHost, _, _ := net.SplitHostPort(lns.receiver.Addr().String())
	s.EmbeddedPort, s.EmbeddedStoreDir = lns.natsPort, o.storeDir
	s.AllowDestinations = strings.Trim(s.AllowDestinations+","+receiverHost, ",")
	s.UnsafeAllowHTTP = true
	s.DevMode = s.MasterKey == ""
	s.RetrySchedule = o.schedule
	s.OpsAddr = ""
	if lns.ops.Listener != nil {
		s.OpsAddr = lns.ops.Addr().String()
	}
	if s.DownloadKey == "" {
		s.DownloadKey = randomKey()
	}
	s.DownloadBaseURL = "http://" + lns.publisher.Addr().String()
}

// apiHandler serves the publisher's APIs of the demo: POST /v1/events
// (token), the signed downloads, and, for auth (the same token as an
// operator's, and the stored API tokens), the delivery log
// (/v1/deliveries) and /v1/status.
func apiHandler(token string, auth *apitoken.Authenticator, pub *publish.Publisher, res *streams.Resources, store logstore.Store,
	conn *natsconn.Conn, sc streams.Config, signer download.Signer, log zerolog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(download.PathPrefix, download.Handler(res.Results, signer, log))
	mux.Handle("/", ingest.NewHandler(pub, ingest.Config{Tokens: []string{token}, Logger: &log}))
	deliveryLog := auth.Require(deliveries.Handler(store))
	mux.Handle(deliveries.Path, deliveryLog)
	mux.Handle(deliveries.Path+"/", deliveryLog)
	mux.Handle(status.Path, auth.Require(status.Handler(store, conn.JS, sc)))
	deadLetters := auth.Require(undeliveredapi.Handler(conn.JS, sc, undeliveredapi.Options{History: logstore.History(store), Log: log}))
	mux.Handle(undeliveredapi.Path, deadLetters)
	mux.Handle(undeliveredapi.Path+"/", deadLetters)
	return mux
}

// randomKey returns a fresh base64 download signing key for this run.
func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// logStoreURL is the quickstart's delivery log: -log-store, else an SQLite
// file in the data directory.
func logStoreURL(o options) string {
	if o.logStore != "" {
		return o.logStore
	}
	return "sqlite:" + filepath.Join(o.storeDir, "deliveries.db")
}

func logPathOf(o options) string { return logstore.Redact(logStoreURL(o)) }

// startLogWriter opens the delivery log and runs a log writer into it; the
// returned func stops the writer and closes the store.
func startLogWriter(ctx context.Context, conn *natsconn.Conn, sc streams.Config, url string, log zerolog.Logger) (logstore.Store, func(), error) {
	store, err := service.OpenLogStore(ctx, config.LogStore{StoreURL: url, Retention: logstore.DefaultRetention})
	if err != nil {
		return nil, nil, err
	}
	w, err := logwriter.New(ctx, conn.JS, store, logwriter.Config{Streams: sc, Logger: &log})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(wctx) }()
	return store, func() { cancel(); <-done; store.Close() }, nil
}

// serveConsole serves the web console on ln (nil: -console "" turned it
// off) until the returned function is called; its background replays end
// with ctx.
func serveConsole(ctx context.Context, ln net.Listener, cfg console.Config) (func(), error) {
	if ln == nil {
		return func() {}, nil
	}
	cfg.Context = ctx
	h, err := console.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return func() { _ = srv.Close() }, nil
}

// consoleURL is the console's address for the banner; "" when it is off.
func consoleURL(lns *listeners) string {
	if lns.console.Listener == nil {
		return ""
	}
	return "http://" + lns.console.Addr().String() + "/"
}
