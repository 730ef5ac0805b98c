package cluster

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// node is one server of an in-process cluster. Its ports and store survive
// a shutdown, so a restart brings back the same member.
type node struct {
	name        string
	clientPort  int
	clusterPort int
	storeDir    string
	srv         *server.Server // nil while down
}

// cluster is a JetStream cluster of in-process servers on loopback.
type cluster struct {
	t      testing.TB
	name   string
	nodes  []*node
	routes string // every node's cluster URL, comma-separated
	// mappings are installed on every node at each start: the partition
	// mapping of a partitioned test.
	mappings map[string]string
}

// newCluster starts n servers that route to each other, with JetStream,
// fsync on every write and a store in t.TempDir(), and waits until they have
// elected a JetStream meta leader. The servers stop when the test ends.
func newCluster(t testing.TB, n int) *cluster {
	t.Helper()
	return newClusterWith(t, n, nil)
}

// newClusterWith is newCluster with mappings installed on every node.
func newClusterWith(t testing.TB, n int, mappings map[string]string) *cluster {
	t.Helper()
	ports := freePorts(t, 2*n)
	c := &cluster{t: t, name: "webhooks-test", mappings: mappings}
	var routes []string
	for i := range n {
		c.nodes = append(c.nodes, &node{
			name: fmt.Sprintf("n%d", i+1), clientPort: ports[2*i], clusterPort: ports[2*i+1], storeDir: t.TempDir(),
		})
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[2*i+1]))
	}
	c.routes = strings.Join(routes, ",")
	for i := range c.nodes {
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.shutdown(i)
		}
	})
	jstest.Eventually(t, 30*time.Second, c.hasMetaLeader, "a JetStream meta leader")
	return c
}

// freePorts reserves n loopback ports: it listens on each, notes the port
// and closes every listener at the end.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// options are node i's server options; a fresh copy for every start, as a
// server keeps and changes the options it was given.
func (c *cluster) options(i int) *server.Options {
	n := c.nodes[i]
	return &server.Options{
		ServerName: n.name,
		Host:       "127.0.0.1",
		Port:       n.clientPort,
		JetStream:  true,
		StoreDir:   n.storeDir,
		SyncAlways: true,
		NoLog:      true,
		NoSigs:     true,
		Cluster:    server.ClusterOpts{Name: c.name, Host: "127.0.0.1", Port: n.clusterPort},
		Routes:     server.RoutesFromStr(c.routes),
	}
}

// start starts (or restarts, on its old store) node i and waits until it
// accepts connections.
func (c *cluster) start(i int) {
	c.t.Helper()
	s, err := server.NewServer(c.options(i))
	if err != nil {
		c.t.Fatalf("node %s: %v", c.nodes[i].name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		s.Shutdown()
		c.t.Fatalf("node %s not ready for connections", c.nodes[i].name)
	}
	if err := embedded.SetMappings(s, c.mappings); err != nil {
		s.Shutdown()
		c.t.Fatalf("node %s: %v", c.nodes[i].name, err)
	}
	c.nodes[i].srv = s
}

// shutdown stops node i gracefully (server.Shutdown) and waits until it is
// down. A crash is modelled by the subprocess test, with SIGKILL.
func (c *cluster) shutdown(i int) {
	if s := c.nodes[i].srv; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		c.nodes[i].srv = nil
	}
}

// index returns the index of the node named name, failing the test when
// there is none.
func (c *cluster) index(name string) int {
	c.t.Helper()
	for i, n := range c.nodes {
		if n.name == name {
			return i
		}
	}
	c.t.Fatalf("no node named %q", name)
	return -1
}

// hasMetaLeader reports whether a running node is the JetStream meta leader.
func (c *cluster) hasMetaLeader() bool {
	for _, n := range c.nodes {
		if n.srv != nil && n.srv.JetStreamIsLeader() {
			return true
		}
	}
	return false
}

// urls are every node's client URL, comma-separated, for nats.Connect.
func (c *cluster) urls() string {
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", n.clientPort))
	}
	return strings.Join(urls, ",")
}

// connect opens a client connection to urls (all of a cluster's servers),
// reconnecting forever, closed when the test ends. The connection's
// asynchronous errors (a write to a server that was just killed, a slow
// consumer) are counted and logged once, when the test ends, instead of
// being printed on stderr.
func connect(t testing.TB, urls string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	var mu sync.Mutex
	var count int
	var first error
	onError := func(_ *nats.Conn, sub *nats.Subscription, err error) {
		mu.Lock()
		defer mu.Unlock()
		if count++; first == nil {
			first = err
			if sub != nil {
				first = fmt.Errorf("%w (subscription %s)", err, sub.Subject)
			}
		}
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if count > 0 {
			t.Logf("client connection: %d asynchronous errors, first: %v", count, first)
		}
	})
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.ErrorHandler(onError))
	if err != nil {
		t.Fatalf("connect to %s: %v", urls, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// ensure creates the pipeline's streams, consumer and bucket, retrying
// until the cluster can place every replica (right after start-up the meta
// leader may not know all peers yet) or the deadline passes.
func ensure(t testing.TB, js jetstream.JetStream, sc streams.Config) *streams.Resources {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := streams.Ensure(ctx, js, sc)
		cancel()
		if err == nil {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("streams.Ensure on the cluster: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling interval of a condition with a deadline
	}
}

// streamLeader returns the name of the current leader of stream, or "" when
// it has none (an election is running) or the request failed.
func streamLeader(ctx context.Context, js jetstream.JetStream, stream string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return ""
	}
	info, err := s.Info(ctx)
	if err != nil || info.Cluster == nil {
		return ""
	}
	return info.Cluster.Leader
}

// consumerLeader returns the name of the current leader of the consumer,
// or "" when it has none or the request failed.
func consumerLeader(ctx context.Context, js jetstream.JetStream, stream, consumer string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		return ""
	}
	info, err := cons.Info(ctx)
	if err != nil || info.Cluster == nil {
		return ""
	}
	return info.Cluster.Leader
}

// streamCurrent reports whether stream has a leader and every one of its
// replicas is current (caught up), so that one more node may be lost.
func streamCurrent(ctx context.Context, js jetstream.JetStream, stream string, replicas int) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return false
	}
	info, err := s.Info(ctx)
	return err == nil && current(info.Cluster, replicas)
}

// consumerCurrent is streamCurrent for a consumer.
func consumerCurrent(ctx context.Context, js jetstream.JetStream, stream, consumer string, replicas int) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		return false
	}
	info, err := cons.Info(ctx)
	return err == nil && current(info.Cluster, replicas)
}

// current reports whether a raft group has a leader and replicas-1 other
// members, all online and caught up.
func current(ci *jetstream.ClusterInfo, replicas int) bool {
	if ci == nil || ci.Leader == "" || len(ci.Replicas) != replicas-1 {
		return false
	}
	for _, r := range ci.Replicas {
		if !r.Current || r.Offline {
			return false
		}
	}
	return true
}
