package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"sigs.k8s.io/yaml"

	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/service"
)

// composeFile is the part of a compose file the checks read.
type composeFile struct {
	Services map[string]struct {
		Image       string            `json:"image"`
		Command     []string          `json:"command"`
		Environment map[string]string `json:"environment"`
		Volumes     []string          `json:"volumes"`
		Ports       []string          `json:"ports"`
		Build       *struct {
			Context    string `json:"context"`
			Dockerfile string `json:"dockerfile"`
		} `json:"build"`
	} `json:"services"`
}

func TestComposeRunsTheProductionTopology(t *testing.T) {
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil { // resolves the file's anchors and merge keys
		t.Fatal(err)
	}
	var nats, deliverers, writers []string
	for name, s := range c.Services {
		switch {
		case strings.HasPrefix(s.Image, "nats:"):
			nats = append(nats, name)
			if !strings.HasPrefix(s.Image, "nats:2.12") {
				t.Errorf("%s runs %s, want nats:2.12", name, s.Image)
			}
			if !slices.Contains(s.Volumes, "./compose/nats.conf:/etc/nats/nats.conf:ro") || !slices.Contains(s.Command, "/etc/nats/nats.conf") {
				t.Errorf("%s does not run the mounted compose/nats.conf", name)
			}
			checkNATSConfig(t, filepath.Join("compose", "nats.conf"), map[string]string{"NATS_SERVER_NAME": name})
		case s.Build != nil && s.Build.Dockerfile == "deploy/docker/Dockerfile.deliverer":
			deliverers = append(deliverers, name)
			checkComposeEnv(t, name, s.Environment, envNames(service.DelivererSettings{}))
		case s.Build != nil && s.Build.Dockerfile == "deploy/docker/Dockerfile.publisher":
			checkComposeEnv(t, name, s.Environment, publisherEnv())
			checkComposeLogStore(t, name, s.Environment)
		case s.Build != nil && s.Build.Dockerfile == "deploy/docker/Dockerfile.logwriter":
			writers = append(writers, name)
			checkComposeEnv(t, name, s.Environment, envNames(service.LogWriterSettings{}))
			checkComposeLogStore(t, name, s.Environment)
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes port %s beyond loopback", name, p)
			}
		}
	}
	if len(nats) != 3 || len(deliverers) != 2 || len(writers) != 2 {
		t.Errorf("NATS nodes %v, deliverers %v and log writers %v: want three, two and two", nats, deliverers, writers)
	}
	if pg, ok := c.Services["postgres"]; !ok || !strings.HasPrefix(pg.Image, "postgres:") {
		t.Error("no postgres service: LOG_STORE_URL would name nothing")
	}
	if _, ok := c.Services["receiver"]; !ok {
		t.Error("no receiver service: the allow-list entry would name nothing")
	}
}

// checkComposeEnv checks a pipeline container's environment in compose:
// known names only, values the command accepts, the three NATS nodes, R3,
// and the receiver on the (unsafe, local) allow-list.
func checkComposeEnv(t *testing.T, service string, env map[string]string, known []string) {
	t.Helper()
	useEnv(t, known, env)
	var common config.Common
	if err := config.Load(&common); err != nil {
		t.Errorf("%s would refuse its environment: %v", service, err)
		return
	}
	if n := len(strings.Split(common.URL, ",")); n != 3 {
		t.Errorf("%s: NATS_URL names %d servers, want the three nodes", service, n)
	}
	if common.Replicas != 3 {
		t.Errorf("%s: STREAMS_REPLICAS = %d, want 3", service, common.Replicas)
	}
	if common.AllowDestinations != "receiver" {
		t.Errorf("%s: WEBHOOKS_ALLOW_DESTINATIONS = %q, want the receiver's host name", service, common.AllowDestinations)
	}
}

// checkComposeLogStore checks that a service's delivery log is the
// compose file's PostgreSQL.
func checkComposeLogStore(t *testing.T, service string, env map[string]string) {
	t.Helper()
	kind, target, err := logstore.ParseURL(env["LOG_STORE_URL"])
	if err != nil || kind != logstore.KindPostgres || !strings.Contains(target, "@postgres:5432/") {
		t.Errorf("%s: LOG_STORE_URL = %q (%v), want the postgres service", service, env["LOG_STORE_URL"], err)
	}
}

// checkNATSConfig parses a nats-server configuration with nats-server's own
// parser (env supplies the variables it references) and checks the
// settings the pipeline relies on.
func checkNATSConfig(t *testing.T, file string, env map[string]string) *server.Options {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	opts, err := server.ProcessConfigFile(file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if !opts.JetStream || !opts.SyncAlways {
		t.Errorf("%s: JetStream %v, sync_interval always %v; want both", file, opts.JetStream, opts.SyncAlways)
	}
	if opts.Cluster.Name == "" || len(opts.Routes) != 3 {
		t.Errorf("%s: cluster %q with %d routes, want a named cluster routing to three nodes", file, opts.Cluster.Name, len(opts.Routes))
	}
	if want := env["NATS_SERVER_NAME"]; want != "" && opts.ServerName != want {
		t.Errorf("%s: server_name %q, want %q", file, opts.ServerName, want)
	}
	return opts
}

func TestHelmValues(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("helm", "nats-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Config struct {
			Cluster struct {
				Enabled  bool `json:"enabled"`
				Replicas int  `json:"replicas"`
			} `json:"cluster"`
			JetStream struct {
				Enabled   bool `json:"enabled"`
				FileStore struct {
					Enabled bool `json:"enabled"`
					PVC     struct {
						Enabled bool   `json:"enabled"`
						Size    string `json:"size"`
					} `json:"pvc"`
				} `json:"fileStore"`
				Merge map[string]any `json:"merge"`
			} `json:"jetstream"`
			Monitor struct {
				Enabled bool `json:"enabled"`
				Port    int  `json:"port"`
			} `json:"monitor"`
		} `json:"config"`
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	c := v.Config
	if !c.Cluster.Enabled || c.Cluster.Replicas != 3 {
		t.Errorf("cluster enabled %v with %d replicas, want 3", c.Cluster.Enabled, c.Cluster.Replicas)
	}
	if js := c.JetStream; !js.Enabled || !js.FileStore.Enabled || !js.FileStore.PVC.Enabled || js.FileStore.PVC.Size == "" {
		t.Error("want JetStream with file storage on a persistent volume claim of a given size")
	}
	if got := c.JetStream.Merge["sync_interval"]; got != "always" {
		t.Errorf("jetstream merge sync_interval = %v, want always", got)
	}
	if !c.Monitor.Enabled || c.Monitor.Port != 8222 {
		t.Error("want the monitoring endpoint on 8222: the KEDA trigger reads it")
	}
}
