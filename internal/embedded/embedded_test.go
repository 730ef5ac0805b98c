package embedded

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A port in use fails Start at once, before the server creates its store.
func TestStartOnPortInUse(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	store := filepath.Join(t.TempDir(), "store")
	start := time.Now()
	s, err := Start(Config{Port: held.Addr().(*net.TCPAddr).Port, StoreDir: store})
	if err == nil {
		s.Shutdown()
		t.Fatal("started on a port in use")
	}
	if !errors.Is(err, ErrCannotListen) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error = %v, want ErrCannotListen wrapping EADDRINUSE", err)
	}
	if _, serr := os.Stat(store); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("store %s created (stat: %v)", store, serr)
	}
	if d := time.Since(start); d > DefaultStartTimeout/2 {
		t.Errorf("took %v to report the clash", d)
	}
}

func TestStartOnFreePort(t *testing.T) {
	s, err := Start(Config{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	s.WaitForShutdown()
}
