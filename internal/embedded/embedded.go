// Package embedded runs a NATS server with JetStream inside the current
// process: the local quickstart's broker when no NATS_URL is given, and the
// broker of the tests. It owns server options and start-up only; streams
// and consumers belong to package streams.
package embedded

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Defaults for Config.
const (
	// DefaultHost is the address the embedded server listens on: loopback
	// only, never a public interface.
	DefaultHost = "127.0.0.1"
	// DefaultPort is the standard NATS client port.
	DefaultPort = 4222
	// DefaultStoreDir is where JetStream keeps its files.
	DefaultStoreDir = "./data"
	// DefaultStartTimeout bounds how long Start waits for the server to
	// accept connections.
	DefaultStartTimeout = 10 * time.Second
)

// ErrNotReady is returned when the server did not become ready in time.
var ErrNotReady = errors.New("embedded nats server not ready")

// ErrCannotListen is wrapped by Start's error when the server's address
// cannot be listened on: another process holds the port (it wraps the
// listen error too, such as syscall.EADDRINUSE), or the port is not
// allowed. Nothing was started and nothing was written to StoreDir.
var ErrCannotListen = errors.New("embedded nats server cannot listen")

// Config describes the embedded server.
type Config struct {
	// Host to listen on. Defaults to DefaultHost.
	Host string
	// Port to listen on; -1 picks a free port. Defaults to DefaultPort when 0.
	Port int
	// StoreDir holds JetStream data. Defaults to DefaultStoreDir.
	StoreDir string
	// SyncAlways makes JetStream fsync every write before acknowledging it
	// (nats-server's sync_interval: always). Defaults to false: the server's
	// own interval of two minutes, which can lose acknowledged writes on an
	// OS crash or power loss.
	SyncAlways bool
	// ServerName names the server in logs and cluster metadata. Optional.
	ServerName string
	// Logger receives the server's log lines; nil keeps the server quiet.
	Logger server.Logger
	// StartTimeout bounds the wait for readiness. Defaults to DefaultStartTimeout.
	StartTimeout time.Duration
	// Mappings are subject mappings of the server's global account, source
	// to destination (streams.Config.Mappings for a partitioned pipeline).
	// Optional.
	Mappings map[string]string
}

// Start launches the server and waits until it accepts connections. The
// caller must call Shutdown (and WaitForShutdown) on the result. A port that
// cannot be listened on fails at once with ErrCannotListen, before the
// server starts and creates its store (the server itself would only fail
// to become ready, after StartTimeout).
func Start(cfg Config) (*server.Server, error) {
	if cfg.Host == "" {
		cfg.Host = DefaultHost
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.StoreDir == "" {
		cfg.StoreDir = DefaultStoreDir
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if err := checkListen(cfg.Host, cfg.Port); err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		SyncAlways: cfg.SyncAlways,
		NoSigs:     true,
		NoLog:      cfg.Logger == nil,
	}
	if len(cfg.Mappings) > 0 {
		global := server.NewAccount(server.DEFAULT_GLOBAL_ACCOUNT)
		if err := addMappings(global, cfg.Mappings); err != nil {
			return nil, err
		}
		opts.Accounts = []*server.Account{global}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded: configure server: %w", err)
	}
	if cfg.Logger != nil {
		s.SetLogger(cfg.Logger, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(cfg.StartTimeout) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded: listen on %s: %w", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), ErrNotReady)
	}
	return s, nil
}

// checkListen listens on host:port and closes the listener again, so that
// a port in use is reported before the server starts; -1 (any free port)
// cannot clash. Another process may still take the port in between, which
// Start then reports as ErrNotReady.
func checkListen(host string, port int) error {
	if port < 0 {
		return nil
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCannotListen, err) // err names the address
	}
	return ln.Close()
}

// SetMappings installs mappings on the running server s, replacing any
// mapping of the same source at once (connections already open follow the
// new one with their next message). Each server of a cluster needs it.
func SetMappings(s *server.Server, mappings map[string]string) error {
	return addMappings(s.GlobalAccount(), mappings)
}

// addMappings adds each mapping to acc, in a stable order.
func addMappings(acc *server.Account, mappings map[string]string) error {
	srcs := make([]string, 0, len(mappings))
	for src := range mappings {
		srcs = append(srcs, src)
	}
	sort.Strings(srcs)
	for _, src := range srcs {
		if err := acc.AddMapping(src, mappings[src]); err != nil {
			return fmt.Errorf("embedded: subject mapping %s -> %s: %w", src, mappings[src], err)
		}
	}
	return nil
}
