package service

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
)

func TestListenNamesTheSettingInUse(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	free := freeAddr(t)
	_, err = Listen(
		Address{Setting: "A_ADDR", Addr: free},
		Address{Setting: "B_ADDR", Addr: held.Addr().String(), Optional: true},
		Address{Setting: "C_ADDR", Optional: true},
	)
	var le *ListenError
	if !errors.As(err, &le) || le.Setting != "B_ADDR" || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("error = %v, want a *ListenError for B_ADDR wrapping EADDRINUSE", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "B_ADDR="+held.Addr().String()) || strings.Contains(msg, "A_ADDR") {
		t.Errorf("error %q does not name B_ADDR and its value alone", msg)
	}
	// Nothing stays bound when one address fails.
	ln, err := net.Listen("tcp", free)
	if err != nil {
		t.Fatalf("A_ADDR %s still bound after the failure: %v", free, err)
	}
	ln.Close()
}

func TestListenBindsEveryAddress(t *testing.T) {
	lns, err := Listen(Address{Setting: "A_ADDR", Addr: "127.0.0.1:0"}, Address{Setting: "B_ADDR", Optional: true})
	if err != nil {
		t.Fatal(err)
	}
	defer CloseListeners(lns)
	if len(lns) != 2 || lns[0] == nil || lns[1] != nil {
		t.Errorf("listeners %v, want one bound and one nil (disabled)", lns)
	}
	if _, err := Listen(Address{Setting: "C_ADDR"}); err == nil || !strings.Contains(err.Error(), "C_ADDR") {
		t.Errorf("a required empty address: error %v, want one naming C_ADDR", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
