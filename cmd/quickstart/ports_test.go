package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestQuickstartPicksFreePortsForTakenDefaults takes every default address
// of the quickstart (embedded NATS, receiver, publisher, ops) before it
// starts: it runs on free ports instead, and the addresses it prints, in
// the banner and in the commands at the end, are the ones it listens on.
func TestQuickstartPicksFreePortsForTakenDefaults(t *testing.T) {
	t.Setenv("NATS_URL", "")
	natsAddr := occupy(t)
	_, natsPort, _ := net.SplitHostPort(natsAddr)
	port, _ := strconv.Atoi(natsPort)
	d := defaults{natsPort: port, receiver: occupy(t), publisher: occupy(t), ops: occupy(t), console: occupy(t)}

	r := start(t, d, "-data", t.TempDir(), "-schedule", fast)
	r.waitFor(t, "Ctrl-C stops it")
	out := r.out.String()

	natsURL := field(t, out, "JetStream ")
	receiver := field(t, out, "receiver  ")
	publisher := strings.TrimSuffix(field(t, out, "publisher "), "/v1/events")
	ops := strings.TrimSuffix(strings.TrimSuffix(field(t, out, "ops       "), ","), "/metrics")
	consoleURL := strings.TrimSuffix(field(t, out, "console   "), "/")
	for what, pair := range map[string][2]string{
		"JetStream": {natsURL, "nats://" + natsAddr}, "receiver": {receiver, "http://" + d.receiver},
		"publisher": {publisher, "http://" + d.publisher}, "ops": {ops, "http://" + d.ops},
		"console": {consoleURL, "http://" + d.console},
	} {
		if pair[0] == pair[1] {
			t.Errorf("%s printed at %s, the taken default", what, pair[0])
		}
	}

	// The printed addresses are the ones served.
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Errorf("connect to the printed JetStream %s: %v", natsURL, err)
	} else {
		nc.Close()
	}
	get := func(url string, auth bool) string {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer quickstart-token")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("GET %s: %v", url, err)
			return ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d, want 200", url, resp.StatusCode)
		}
		return string(body)
	}
	get(ops+"/healthz", false)
	if page := get(consoleURL+"/login", false); !strings.Contains(page, "token") {
		t.Errorf("the printed console %s does not serve its sign-in page:\n%s", consoleURL, page)
	}
	get(publisher+"/v1/deliveries?org_id=org_demo", true)
	undelivered := strings.Fields(strings.SplitN(out, "/v1/status?event_id=", 2)[1])[0]
	get(publisher+"/v1/status?event_id="+strings.TrimSuffix(undelivered, "'"), true)
	// The consumer lag series read the quickstart's own consumer.
	if m := get(ops+"/metrics", false); !strings.Contains(m, "webhooks_jetstream_up 1") ||
		!strings.Contains(m, `webhooks_consumer_pending_messages{partition="none"} 0`) {
		t.Errorf("the deliverer's metrics do not read its consumer:\n%s", grep(m, "webhooks_"))
	}

	// The commands printed at the end use them too.
	for _, want := range []string{"curl -sS -X POST " + publisher + "/v1/events", "'" + publisher + "/v1/deliveries?org_id=org_demo'",
		"'" + publisher + "/v1/status?event_id=", "export NATS_URL=" + natsURL + " ", `"url":"` + receiver + `/ok"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the next steps lack %q:\n%s", want, out)
		}
	}
	if err := r.stop(t); err != nil {
		t.Errorf("quickstart: %v", err)
	}
}

// TestQuickstartTakenFlagAddress gives each address flag an address that
// another process holds: the quickstart stops before it starts anything,
// with an error that names the flag.
func TestQuickstartTakenFlagAddress(t *testing.T) {
	t.Setenv("NATS_URL", "")
	for _, flagName := range []string{"receiver", "publisher", "ops", "nats-port"} {
		t.Run(flagName, func(t *testing.T) {
			addr := occupy(t)
			value := addr
			if flagName == "nats-port" {
				_, value, _ = net.SplitHostPort(addr)
			}
			dir := t.TempDir()
			args := append(append([]string{}, freePorts...), "-exit", "-data", dir, "-"+flagName, value)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := runWith(ctx, args, &strings.Builder{}, standardDefaults())
			var fa *flagAddrError
			if !errors.As(err, &fa) || fa.Flag != flagName || !errors.Is(err, syscall.EADDRINUSE) {
				t.Fatalf("error = %v, want a taken-address error naming -%s", err, flagName)
			}
			if _, err := os.Stat(filepath.Join(dir, "jetstream")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the quickstart started JetStream in %s before failing (%v)", dir, err)
			}
		})
	}
}

// grep returns the lines of s that contain sub.
func grep(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
