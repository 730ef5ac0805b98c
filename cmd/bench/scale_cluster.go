package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
)

// The scale phase's cluster: scaleNodes JetStream servers on loopback, each
// a child process of this binary (modeServer) so that its CPU time is its
// own.
const (
	scaleNodes       = 3
	scaleClusterName = "webhooks-bench"
	scaleHost        = "127.0.0.1"
	// serverStartTimeout bounds a server child's wait until it accepts
	// client connections.
	serverStartTimeout = 20 * time.Second
	// serverAskTimeout bounds a server child's answer to a query.
	serverAskTimeout = 10 * time.Second
)

// serverSpec configures a server child: one node of a JetStream cluster
// whose routes name every node.
type serverSpec struct {
	Name        string            // server name (n1, n2, ...), as stream and consumer leaders are named
	ClientPort  int               // client port on scaleHost
	ClusterPort int               // route port on scaleHost
	Routes      string            // every node's route URL, comma-separated
	StoreDir    string            // the node's JetStream store
	LogFile     string            // the server's log (notices and errors)
	SyncAlways  bool              // fsync every write before acknowledging it
	Mappings    map[string]string // subject mappings of the global account
	Tags        []string          // server tags, for stream placement
}

// serverTag is the tag naming server name, which placement can ask for.
func serverTag(name string) string { return "node:" + name }

// options are the server options of s.
func (s serverSpec) options() *server.Options {
	return &server.Options{
		ServerName: s.Name,
		Host:       scaleHost,
		Port:       s.ClientPort,
		JetStream:  true,
		StoreDir:   s.StoreDir,
		SyncAlways: s.SyncAlways,
		LogFile:    s.LogFile,
		NoSigs:     true,
		Cluster:    server.ClusterOpts{Name: scaleClusterName, Host: scaleHost, Port: s.ClusterPort},
		Routes:     server.RoutesFromStr(s.Routes),
		Tags:       jwt.TagList(s.Tags),
	}
}

// runServerChild is a server child: it starts the server of spec.Server,
// installs its mappings, says "ready", answers "conns" (the names of its
// client connections, "conns <json list>") until stdin closes or ctx ends,
// then shuts the server down and says "result {}".
func runServerChild(ctx context.Context, spec childSpec, in io.Reader, out io.Writer) error {
	if spec.Server == nil {
		return errors.New("server child: no server spec")
	}
	s, err := startServer(*spec.Server)
	if err != nil {
		return fmt.Errorf("server child %s: %w", spec.Server.Name, err)
	}
	fmt.Fprintln(out, "ready")
	answerServerQueries(ctx, s, in, out)
	s.Shutdown()
	s.WaitForShutdown()
	fmt.Fprintln(out, "result {}")
	return nil
}

// startServer starts the server of ss and waits until it accepts client
// connections, then installs the mappings.
func startServer(ss serverSpec) (*server.Server, error) {
	s, err := server.NewServer(ss.options())
	if err != nil {
		return nil, fmt.Errorf("configure: %w", err)
	}
	if ss.LogFile != "" {
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(serverStartTimeout) {
		s.Shutdown()
		return nil, fmt.Errorf("not accepting connections on port %d within %v (log: %s)", ss.ClientPort, serverStartTimeout, ss.LogFile)
	}
	if err := embedded.SetMappings(s, ss.Mappings); err != nil {
		s.Shutdown()
		return nil, err
	}
	return s, nil
}

// answerServerQueries answers the parent's queries until stdin closes or
// ctx ends: "conns", and "profile <path>", which ends the CPU profile under
// way, if any, and starts one in path (none when path is empty).
func answerServerQueries(ctx context.Context, s *server.Server, in io.Reader, out io.Writer) {
	cmds := lines(in)
	stop := func() {}
	defer func() { stop() }()
	for {
		select {
		case c, ok := <-cmds:
			if !ok {
				return
			}
			switch cmd, arg, _ := strings.Cut(c, " "); cmd {
			case "conns":
				raw, _ := json.Marshal(clientNames(s))
				fmt.Fprintf(out, "conns %s\n", raw)
			case "profile":
				stop = profileServer(stop, arg)
				fmt.Fprintln(out, "dumped")
			}
		case <-ctx.Done():
			return
		}
	}
}

// profileServer ends the profile that stop ends and starts one in path,
// returning what ends it; a profile that cannot start is logged to stderr
// (the server keeps running).
func profileServer(stop func(), path string) func() {
	stop()
	next, err := profileSelf(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "server child: CPU profile %s: %v\n", path, err)
		return func() {}
	}
	return next
}

// profile asks every node to write its CPU profile to dir/<prefix>-<node>.pprof
// from now on, or to end its profile when prefix is empty; it does nothing
// when dir is empty.
func (cl *scaleCluster) profile(dir, prefix string) error {
	if dir == "" {
		return nil
	}
	var errs []error
	for _, n := range cl.nodes {
		path := ""
		if prefix != "" {
			path = filepath.Join(dir, prefix+"-"+n.name+".pprof")
		}
		errs = append(errs, n.c.ask("profile "+path))
	}
	return errors.Join(errs...)
}

// clientNames returns the names of s's client connections.
func clientNames(s *server.Server) []string {
	cz, err := s.Connz(&server.ConnzOptions{})
	if err != nil {
		return nil
	}
	names := []string{}
	for _, c := range cz.Conns {
		names = append(names, c.Name)
	}
	return names
}

// serverNode is the parent's handle on one server child.
type serverNode struct {
	name string
	url  string // client URL
	c    *child
}

// scaleCluster is a JetStream cluster of server children.
type scaleCluster struct {
	nodes []*serverNode
}

// startCluster starts scaleNodes server children at once, routing to each
// other, each with its store and log under dir, fsync on every write when
// syncAlways, and mappings, and waits until each accepts client
// connections. On error every started child is killed.
func startCluster(dir string, syncAlways bool, mappings map[string]string) (*scaleCluster, error) {
	ports, err := freePorts(2 * scaleNodes)
	if err != nil {
		return nil, err
	}
	var routes []string
	for i := range scaleNodes {
		routes = append(routes, fmt.Sprintf("nats://%s:%d", scaleHost, ports[2*i+1]))
	}
	cl := &scaleCluster{nodes: make([]*serverNode, scaleNodes)}
	errs := make([]error, scaleNodes)
	var wg sync.WaitGroup
	for i := range scaleNodes {
		ss := serverSpec{
			Name: fmt.Sprintf("n%d", i+1), ClientPort: ports[2*i], ClusterPort: ports[2*i+1],
			Routes: strings.Join(routes, ","), SyncAlways: syncAlways, Mappings: mappings,
		}
		ss.Tags = []string{serverTag(ss.Name)}
		ss.StoreDir, ss.LogFile = filepath.Join(dir, ss.Name), filepath.Join(dir, ss.Name+".log")
		wg.Go(func() {
			c, err := startChild(childSpec{Mode: modeServer, Server: &ss})
			if err != nil {
				errs[i] = fmt.Errorf("start server %s: %w", ss.Name, err)
				return
			}
			cl.nodes[i] = &serverNode{name: ss.Name, url: fmt.Sprintf("nats://%s:%d", scaleHost, ss.ClientPort), c: c}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		cl.kill()
		return nil, err
	}
	return cl, nil
}

// freePorts reserves n loopback ports: it listens on each, notes the port
// and closes every listener at the end (another process may take one in
// between; the server child then fails to start and says so).
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", scaleHost+":0")
		if err != nil {
			return nil, fmt.Errorf("reserve a port: %w", err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// urls are every node's client URL, comma-separated, for nats.Connect.
func (cl *scaleCluster) urls() string {
	var urls []string
	for _, n := range cl.nodes {
		urls = append(urls, n.url)
	}
	return strings.Join(urls, ",")
}

// names are the nodes' server names, in node order.
func (cl *scaleCluster) names() []string {
	var names []string
	for _, n := range cl.nodes {
		names = append(names, n.name)
	}
	return names
}

// procUsage is a process's CPU time so far and its thread count.
type procUsage struct {
	user, sys time.Duration
	threads   int
}

// cpu returns user+system time.
func (u procUsage) cpu() time.Duration { return u.user + u.sys }

// readProcUsage reads pid's usage from /proc/<pid>/stat (utime, stime in
// clock ticks, as procCPU; num_threads); zero when unreadable.
func readProcUsage(pid int) procUsage {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procUsage{}
	}
	i := bytes.LastIndexByte(raw, ')') // the command name may contain spaces
	if i < 0 {
		return procUsage{}
	}
	f := strings.Fields(string(raw[i+1:]))
	// f[0] is field 3 (state); utime, stime and num_threads are fields 14, 15 and 20.
	if len(f) < 18 {
		return procUsage{}
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	threads, _ := strconv.Atoi(f[17])
	return procUsage{user: time.Duration(utime) * clockTick, sys: time.Duration(stime) * clockTick, threads: threads}
}

// usage returns each node's usage so far, in node order.
func (cl *scaleCluster) usage() []procUsage {
	out := make([]procUsage, len(cl.nodes))
	for i, n := range cl.nodes {
		out[i] = readProcUsage(n.c.pid())
	}
	return out
}

// clientOf returns the name of the node holding the client connection
// named client, or "?" when none says so.
func (cl *scaleCluster) clientOf(client string) string {
	for _, n := range cl.nodes {
		if _, err := io.WriteString(n.c.stdin, "conns\n"); err != nil {
			continue
		}
		line, err := n.c.expect("conns ", serverAskTimeout)
		if err != nil {
			continue
		}
		var names []string
		if json.Unmarshal([]byte(line), &names) == nil && slices.Contains(names, client) {
			return n.name
		}
	}
	return "?"
}

// stop shuts every node down gracefully, all at once, and waits until
// they have exited (a node that does not answer is killed).
func (cl *scaleCluster) stop(ctx context.Context) error {
	errs := make([]error, len(cl.nodes))
	var wg sync.WaitGroup
	for i, n := range cl.nodes {
		wg.Go(func() { _, _, errs[i] = n.c.stop(ctx) })
	}
	wg.Wait()
	cl.nodes = nil
	return errors.Join(errs...)
}

// kill ends every node at once (error paths).
func (cl *scaleCluster) kill() {
	for _, n := range cl.nodes {
		if n != nil {
			n.c.kill()
		}
	}
	cl.nodes = nil
}
