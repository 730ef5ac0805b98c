package ssrf

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Environment of the re-executed child.
const (
	// childEnv marks the child process running inside the namespaces.
	childEnv = "WEBHOOKS_SSRF_NETNS_CHILD"
	// parentNetnsEnv carries the parent's network namespace, which the
	// child must not be in.
	parentNetnsEnv = "WEBHOOKS_SSRF_PARENT_NETNS"
)

// childTimeout bounds the whole child run.
const childTimeout = 90 * time.Second

// TestSSRFInNetworkNamespace runs TestNetnsChild in a new network and mount
// namespace (unshare --net --mount) and fails with the child's output when
// the child fails. It is skipped without root or without unshare, ip and
// mount, or where namespaces cannot be created.
func TestSSRFInNetworkNamespace(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("this is the namespace child")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to create a network namespace (unshare --net --mount); CI runs as root")
	}
	for _, tool := range []string{"unshare", "ip", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipped: needs %s (util-linux, iproute2) to build the namespace: %v", tool, err)
		}
	}
	if out, err := exec.Command("unshare", "--net", "--mount", "true").CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot create namespaces here (unshare --net --mount true: %v: %s)", err, bytes.TrimSpace(out))
	}
	netns, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatalf("reading our network namespace: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--mount", "--", exe,
		"-test.run=^TestNetnsChild$", "-test.v", "-test.count=1", "-test.timeout="+childTimeout.String())
	cmd.Env = childEnviron(netns)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the SSRF checks inside the namespace failed (%v). Failures:\n%s\n\nFull output of the child:\n%s", err, failures(out), out)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestNetnsChild")) {
		t.Fatalf("the namespace child did not pass (skipped or did not run):\n%s", out)
	}
	t.Logf("namespace child passed:\n%s", summary(out))
}

// childEnviron is our environment plus the child marker, the parent's
// namespace, and GODEBUG=netdns=go so that Go's own resolver reads the
// child's /etc/hosts and asks its DNS server.
func childEnviron(netns string) []string {
	env := []string{childEnv + "=1", parentNetnsEnv + "=" + netns}
	godebug := "netdns=go"
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, childEnv+"="), strings.HasPrefix(kv, parentNetnsEnv+"="):
		case strings.HasPrefix(kv, "GODEBUG="):
			godebug = strings.TrimPrefix(kv, "GODEBUG=") + ",netdns=go"
		default:
			env = append(env, kv)
		}
	}
	return append(env, "GODEBUG="+godebug)
}

// failures picks the failure lines out of `go test -v` output.
func failures(out []byte) string {
	var b strings.Builder
	for _, line := range strings.Split(string(out), "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "--- FAIL") || strings.Contains(l, "_test.go:") && !strings.HasPrefix(l, "---") && !strings.Contains(l, "[ok]") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// summary picks the result lines out of `go test -v` output.
func summary(out []byte) string {
	var b strings.Builder
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "--- ") || strings.Contains(line, "[ok]") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestNetnsChild is the part that runs inside the namespaces, started by
// TestSSRFInNetworkNamespace; it is skipped everywhere else. It refuses to
// do anything unless it is in a fresh network namespace.
func TestNetnsChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("runs only inside the namespace made by TestSSRFInNetworkNamespace")
	}
	requireFreshNetns(t)
	setUpNetwork(t)
	setUpNameFiles(t)
	dns := startDNS(t, "127.0.0.1:53")
	canaries := startCanaries(t)

	t.Run("PublishTimeCheck", testPublishTimeCheck)
	t.Run("DialTimeGuard", func(t *testing.T) { testDialTimeGuard(t, dns, canaries) })
}

// requireFreshNetns stops the test unless this process is in a network
// namespace other than the parent's whose only interface is lo.
func requireFreshNetns(t *testing.T) {
	t.Helper()
	mine, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatalf("reading our network namespace: %v", err)
	}
	if parent := os.Getenv(parentNetnsEnv); parent == "" || parent == mine {
		t.Fatalf("refusing to run: network namespace %s is the parent's (%q), not a fresh one", mine, parent)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(ifs) != 1 || ifs[0].Name != "lo" {
		t.Fatalf("refusing to run: a fresh network namespace has only lo, this one has %v", ifs)
	}
}

// setUpNetwork brings lo up and puts the canary addresses on it.
func setUpNetwork(t *testing.T) {
	t.Helper()
	run(t, "ip", "link", "set", "lo", "up")
	const v6off = "/proc/sys/net/ipv6/conf/lo/disable_ipv6"
	b, err := os.ReadFile(v6off)
	if err != nil {
		t.Fatalf("IPv6 is needed for the fd00:ec2::254 canary: %v", err)
	}
	if strings.TrimSpace(string(b)) != "0" {
		run(t, "sysctl", "-w", "net.ipv6.conf.lo.disable_ipv6=0")
	}
	for _, h := range canaryHosts {
		if h.addr != "" {
			run(t, "ip", "addr", "add", h.addr, "dev", "lo")
		}
	}
}

// setUpNameFiles bind-mounts, in the private mount namespace, an /etc/hosts
// naming the canaries, a resolv.conf pointing at the child's DNS server and
// an nsswitch.conf that consults files then DNS.
func setUpNameFiles(t *testing.T) {
	t.Helper()
	run(t, "mount", "--make-rprivate", "/")
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1 localhost\n::1 localhost\n")
	for _, h := range canaryHosts {
		hosts.WriteString(h.ip + " " + h.name + "\n")
	}
	hosts.WriteString("10.99.0.1 canary-multi.test\nfd00:ec2::254 canary-multi.test\n")
	dir := t.TempDir()
	bind(t, dir, "/etc/hosts", hosts.String())
	bind(t, dir, "/etc/resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:2\n")
	bind(t, dir, "/etc/nsswitch.conf", "hosts: files dns\n")
}

// bind writes content to a file in dir and bind-mounts it over target.
func bind(t *testing.T, dir, target, content string) {
	t.Helper()
	src := filepath.Join(dir, filepath.Base(target))
	if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "mount", "--bind", src, target)
	t.Cleanup(func() { _ = exec.Command("umount", target).Run() })
}

// run runs a command and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}
