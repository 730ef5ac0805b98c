package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// childEnv carries a childSpec (JSON) to a child process; its presence is
// what makes the binary run as a child.
const childEnv = "WEBHOOKS_BENCH_CHILD"

// Modes of a child: the client under test.
const (
	modeDeliverer = "deliverer" // the real deliverer, every production feature on
	modeBare      = "bare"      // baseline C: consume, sign, POST, ack
	modeHTTP      = "http"      // baseline A: sign and POST, no JetStream
	modeJS        = "js"        // baseline B: consume and ack, no HTTP
	modeServer    = "server"    // a JetStream server of the scale phase's cluster (Server)
	modeHog       = "hog"       // every core kept busy, no I/O (the fairness phase's CPU load)
)

// childSpec tells a child what to run.
type childSpec struct {
	Mode       string         // one of the modes above
	NATSURL    string         // the parent's JetStream server
	Streams    streams.Config // the pipeline's names and settings, defaulted
	Workers    int            // concurrency (deliverer) or worker goroutines (http, bare)
	PerHost    int            // deliverer per-host limit; idle connections kept per host
	MaxWaiting int            // deliverer MaxWaiting; 0 is its default
	Prefetch   int            // pull batch / client-side buffer
	URL        string         // http: where to POST
	Count      int            // http: how many requests
	LogPath    string         // deliverer: the attempt log
	CPUProfile string         // CPU profile of the run, if set
	// ShutdownTimeout is the deliverer's; short, so that a run with
	// attempts stuck on a black hole ends quickly.
	ShutdownTimeout time.Duration
	// Server configures a server child (modeServer); nil otherwise.
	Server *serverSpec `json:",omitempty"`
}

// childResult is what a child reports when it stops.
type childResult struct {
	GoroutinesBefore int    // before connecting to NATS
	GoroutinesAfter  int    // after the run ended and everything was closed
	LeakDump         string // goroutine dump written when After > Before
	RunError         string // the run's error, if any
}

// child is the parent's handle on a child process. The protocol is
// line-based: the child prints "ready" once set up; the parent writes "go"
// to start the run, and "dump <path>" for a goroutine dump or "heap <path>"
// for a heap profile (each answered "dumped"); closing stdin stops the
// child, which prints "result <json>".
type child struct {
	spec   childSpec
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	readen chan struct{}
}

// startChild re-executes this binary as a child running spec and waits
// until it is ready.
func startChild(spec childSpec) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	c := &child{spec: spec, cmd: exec.Command(exe), lines: make(chan string, 16), readen: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	if _, set := os.LookupEnv("GORACE"); !set {
		// A race-enabled child (under go test -race) would otherwise sleep
		// a second at exit; race reports still fail it (exit status 66).
		c.cmd.Env = append(c.cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	c.cmd.Stderr = os.Stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(c.readen)
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	if _, err := c.expect("ready", 60*time.Second); err != nil {
		c.kill()
		return nil, fmt.Errorf("%s child: %w", spec.Mode, err)
	}
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// expect waits for the next line starting with prefix and returns the rest.
func (c *child) expect(prefix string, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				return "", errors.New("exited before saying " + prefix)
			}
			if rest, found := strings.CutPrefix(line, prefix); found {
				return strings.TrimSpace(rest), nil
			}
		case <-t.C:
			return "", fmt.Errorf("no %q within %v", prefix, timeout)
		}
	}
}

// begin starts the run.
func (c *child) begin() error {
	_, err := io.WriteString(c.stdin, "go\n")
	return err
}

// dump asks the child for a goroutine dump in path.
func (c *child) dump(path string) error { return c.ask("dump " + path) }

// heap asks the child for a heap profile in path.
func (c *child) heap(path string) error { return c.ask("heap " + path) }

func (c *child) ask(cmd string) error {
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		return err
	}
	_, err := c.expect("dumped", 30*time.Second)
	return err
}

// stop ends the run and the child and returns its report and resource
// usage (peak RSS and CPU of the whole child lifetime).
func (c *child) stop(ctx context.Context) (childResult, *syscall.Rusage, error) {
	_ = c.stdin.Close()
	var res childResult
	line, err := c.expect("result ", 2*time.Minute)
	if err == nil {
		err = json.Unmarshal([]byte(line), &res)
	}
	if err != nil {
		c.kill()
		return res, nil, fmt.Errorf("%s child: %w", c.spec.Mode, err)
	}
	c.drain()
	if err := c.cmd.Wait(); err != nil {
		return res, nil, fmt.Errorf("%s child: %w", c.spec.Mode, err)
	}
	ru, _ := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if res.RunError != "" && ctx.Err() == nil {
		return res, ru, fmt.Errorf("%s child: run: %s", c.spec.Mode, res.RunError)
	}
	return res, ru, nil
}

// kill ends the child at once (error paths).
func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	_ = c.stdin.Close()
	c.drain()
	_ = c.cmd.Wait()
}

// drain discards the child's output until it closes stdout, as Wait
// requires.
func (c *child) drain() {
	for range c.lines {
	}
	<-c.readen
}
