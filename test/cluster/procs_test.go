package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
)

// buildNATSServer builds nats-server from the module's own dependency
// (the version go.mod requires) into a temporary directory and returns
// its path. It skips the test when the go command is not on PATH. The build
// uses the environment's settings, so that it reuses what go vet ./...
// compiled into the build cache.
func buildNATSServer(t testing.TB) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: cannot build nats-server for the crash test")
	}
	bin := filepath.Join(t.TempDir(), "nats-server")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	began := time.Now()
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build nats-server: %v\n%s", err, out)
	}
	t.Logf("built nats-server in %v", time.Since(began).Round(time.Millisecond))
	return bin
}

// proc is one nats-server process of a cluster. Its config file, ports and
// store survive a kill, so a restart brings back the same member.
type proc struct {
	name       string
	clientPort int
	config     string // path of the generated config file
	log        *os.File
	cmd        *exec.Cmd
	exited     chan struct{} // closed when cmd has been waited for
}

// procCluster is a JetStream cluster of nats-server processes on loopback.
type procCluster struct {
	t     testing.TB
	bin   string
	procs []*proc
}

// configTemplate is a node's nats-server configuration: loopback only,
// JetStream with fsync on every write (sync_interval: always), and routes
// to every node of the cluster.
const configTemplate = `server_name: %s
listen: 127.0.0.1:%d
jetstream {
  store_dir: %q
  sync_interval: always
}
cluster {
  name: webhooks-crash
  listen: 127.0.0.1:%d
  routes: [%s]
}
`

// newProcCluster writes the config of n nodes, starts them and waits until
// every one accepts connections. They are killed when the test ends.
func newProcCluster(t testing.TB, bin string, n int) *procCluster {
	t.Helper()
	dir := t.TempDir()
	ports := freePorts(t, 2*n)
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[2*i+1]))
	}
	pc := &procCluster{t: t, bin: bin}
	for i := range n {
		p := &proc{name: fmt.Sprintf("n%d", i+1), clientPort: ports[2*i], config: filepath.Join(dir, fmt.Sprintf("n%d.conf", i+1))}
		conf := fmt.Sprintf(configTemplate, p.name, p.clientPort, filepath.Join(dir, p.name), ports[2*i+1], strings.Join(routes, ", "))
		if err := os.WriteFile(p.config, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		log, err := os.Create(filepath.Join(dir, p.name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		p.log = log
		pc.procs = append(pc.procs, p)
	}
	t.Cleanup(func() {
		for i, p := range pc.procs {
			pc.stop(i)
			p.log.Close()
		}
	})
	for i := range pc.procs {
		pc.start(i)
	}
	return pc
}

// start runs node i (again, on its old store) and waits until it accepts
// client connections.
func (pc *procCluster) start(i int) {
	pc.t.Helper()
	p := pc.procs[i]
	p.cmd = exec.Command(pc.bin, "-c", p.config)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		pc.t.Fatalf("start %s: %v", p.name, err)
	}
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { _ = cmd.Wait(); close(exited) }(p.cmd, p.exited)
	url := fmt.Sprintf("nats://127.0.0.1:%d", p.clientPort)
	jstest.Eventually(pc.t, 20*time.Second, func() bool {
		select {
		case <-p.exited:
			pc.t.Fatalf("%s exited at start-up:\n%s", p.name, pc.logTail(i))
		default:
		}
		nc, err := nats.Connect(url, nats.Timeout(time.Second))
		if err != nil {
			return false
		}
		nc.Close()
		return true
	}, "%s accepting connections", p.name)
}

// kill sends SIGKILL to node i, as a crash or power loss of that node
// would end it, and waits until the process is gone.
func (pc *procCluster) kill(i int) {
	pc.t.Helper()
	p := pc.procs[i]
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		pc.t.Fatalf("kill %s: %v", p.name, err)
	}
	<-p.exited
	p.cmd = nil
}

// stop ends node i at the end of the test: SIGTERM, then SIGKILL if it has
// not exited within ten seconds.
func (pc *procCluster) stop(i int) {
	p := pc.procs[i]
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
	p.cmd = nil
}

// index returns the index of the node named name.
func (pc *procCluster) index(name string) int {
	pc.t.Helper()
	for i, p := range pc.procs {
		if p.name == name {
			return i
		}
	}
	pc.t.Fatalf("no node named %q", name)
	return -1
}

// urls are every node's client URL, comma-separated.
func (pc *procCluster) urls() string {
	var urls []string
	for _, p := range pc.procs {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", p.clientPort))
	}
	return strings.Join(urls, ",")
}

// logTail returns the end of node i's log, for failure messages.
func (pc *procCluster) logTail(i int) string {
	b, _ := os.ReadFile(pc.procs[i].log.Name())
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(bytes.TrimSpace(b))
}
