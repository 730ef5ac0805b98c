package deploy

import (
	"encoding/base64"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/ingest"
	"github.com/sixtyfour-oss/webhooks/internal/logstore"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/internal/service"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// publisherOnly are the publisher's own variables (cmd/publisher/config.go,
// a main package the test cannot import).
var publisherOnly = []string{
	"PUBLISHER_LISTEN_ADDR", "PUBLISHER_TOKENS", "PUBLISHER_MAX_BODY_BYTES", "PUBLISHER_ADMIN_TOKENS", "PUBLISHER_OPS_ADDR",
}

// publisherEnv lists every variable the publisher reads.
func publisherEnv() []string {
	return slices.Concat(envNames(config.Common{}), envNames(config.LogStore{}), publisherOnly)
}

// envNames lists the envconfig variable names of a settings struct,
// including those of embedded structs.
func envNames(v any) []string {
	var names []string
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if name := f.Tag.Get("envconfig"); name != "" {
				names = append(names, name)
			}
		}
	}
	walk(reflect.TypeOf(v))
	return names
}

// containerEnv resolves a container's environment: plain values, and
// secretKeyRef values from the Secret manifests. Other sources fail the test.
func containerEnv(t *testing.T, m *manifests, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = m.secretValue(t, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
			if e.Name == "WEBHOOKS_MASTER_KEY" && strings.Contains(env[e.Name], "REPLACE-ME") {
				// The Secret ships a placeholder that the commands refuse
				// at start-up until the operator replaces it; the wiring
				// is tested with a well-formed key.
				env[e.Name] = "k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32))
			}
		default:
			t.Fatalf("container %s: %s comes from neither a value nor a Secret", c.Name, e.Name)
		}
	}
	return env
}

// goRuntimeEnv are variables the Go runtime of every command reads.
var goRuntimeEnv = []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS"}

// useEnv makes env the only settings among known in the process
// environment for the rest of the test: every known variable is unset
// first (restored afterwards), then env is set. Unknown names fail the test
// (a misspelt variable would otherwise be silently ignored by the command),
// except the Go runtime's own.

func useEnv(t *testing.T, known []string, env map[string]string) {
	t.Helper()
	for _, name := range known {
		t.Setenv(name, "") // restores the old value when the test ends
		os.Unsetenv(name)
	}
	for name, v := range env {
		if slices.Contains(goRuntimeEnv, name) {
			continue
		}
		if !slices.Contains(known, name) {
			t.Errorf("%s is not a variable the command reads (misspelt?)", name)
			continue
		}
		t.Setenv(name, v)
	}
}

// port returns the port of a listen address such as ":9090".
func port(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	return int32(n)
}

// checkPod checks what every workload needs: one container, non-root, a
// read-only root filesystem, no privilege escalation, resources, and
// liveness and readiness probes on the ops port.
func checkPod(t *testing.T, name string, spec corev1.PodSpec, opsPort int32) corev1.Container {
	t.Helper()
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", name, len(spec.Containers))
	}
	c := spec.Containers[0]
	nonRoot := spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot
	if sc := c.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
		nonRoot = *sc.RunAsNonRoot
	}
	if !nonRoot {
		t.Errorf("%s: runAsNonRoot is not set", name)
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: want readOnlyRootFilesystem: true and allowPrivilegeEscalation: false", name)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: want cpu and memory requests and a memory limit", name)
	}
	for _, p := range []struct {
		probe *corev1.Probe
		path  string
	}{{c.LivenessProbe, "/healthz"}, {c.ReadinessProbe, "/readyz"}} {
		probe, path := p.probe, p.path
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || containerPort(c, probe.HTTPGet.Port.String()) != opsPort {
			t.Errorf("%s: want an HTTP probe of %s on the ops port %d", name, path, opsPort)
		}
	}
	return c
}

// containerPort resolves a named or numeric port of a container; 0 if none.
func containerPort(c corev1.Container, p string) int32 {
	if n, err := strconv.Atoi(p); err == nil {
		return int32(n)
	}
	for _, cp := range c.Ports {
		if cp.Name == p {
			return cp.ContainerPort
		}
	}
	return 0
}

func TestDelivererDeployment(t *testing.T) {
	m := loadManifests(t)
	d := m.deployments["webhooks-deliverer"]
	if d == nil {
		t.Fatal("no Deployment webhooks-deliverer")
	}
	env := containerEnv(t, m, d.Spec.Template.Spec.Containers[0])
	useEnv(t, envNames(service.DelivererSettings{}), env)
	var s service.DelivererSettings
	if err := config.Load(&s); err != nil {
		t.Fatalf("the deliverer would refuse its environment: %v", err)
	}
	c := checkPod(t, d.Name, d.Spec.Template.Spec, port(t, s.OpsAddr))
	if s.Replicas != 3 {
		t.Errorf("STREAMS_REPLICAS = %d, want 3 in production", s.Replicas)
	}
	if s.URL == "" {
		t.Error("NATS_URL is empty: the deliverer would start an embedded server")
	}
	if s.AllowDestinations != "" || s.UnsafeAllowHTTP || s.DevMode {
		t.Error("production manifests must not set WEBHOOKS_ALLOW_DESTINATIONS, WEBHOOKS_UNSAFE_ALLOW_HTTP or WEBHOOKS_DEV_MODE")
	}
	longest := time.Duration(envelope.TimeoutCapSeconds) * time.Second
	if s.ShutdownTimeout <= longest {
		t.Errorf("DELIVERER_SHUTDOWN_TIMEOUT = %v, want longer than the longest attempt (%v)", s.ShutdownTimeout, longest)
	}
	grace := time.Duration(*d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	if grace < s.ShutdownTimeout+10*time.Second {
		t.Errorf("terminationGracePeriodSeconds = %v, want at least DELIVERER_SHUTDOWN_TIMEOUT (%v) + 10s", grace, s.ShutdownTimeout)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Error("rolling updates must keep every deliverer until its replacement is ready (maxUnavailable: 0)")
	}
	t.Logf("deliverer: %s, shutdown %v within a grace period of %v, image %s", env["NATS_URL"], s.ShutdownTimeout, grace, c.Image)
}

func TestPublisherDeployment(t *testing.T) {
	m := loadManifests(t)
	d := m.deployments["webhooks-publisher"]
	if d == nil {
		t.Fatal("no Deployment webhooks-publisher")
	}
	env := containerEnv(t, m, d.Spec.Template.Spec.Containers[0])
	useEnv(t, publisherEnv(), env)
	var common config.Common
	if err := config.Load(&common); err != nil {
		t.Fatalf("the publisher would refuse its environment: %v", err)
	}
	if common.Replicas != 3 || common.URL == "" {
		t.Errorf("STREAMS_REPLICAS = %d and NATS_URL = %q, want 3 and a cluster", common.Replicas, common.URL)
	}
	if common.AllowDestinations != "" || common.UnsafeAllowHTTP || common.DevMode {
		t.Error("production manifests must not set WEBHOOKS_ALLOW_DESTINATIONS, WEBHOOKS_UNSAFE_ALLOW_HTTP or WEBHOOKS_DEV_MODE")
	}
	c := checkPod(t, d.Name, d.Spec.Template.Spec, port(t, env["PUBLISHER_OPS_ADDR"]))
	if got := containerPort(c, "http"); got != port(t, env["PUBLISHER_LISTEN_ADDR"]) || got != 8080 {
		t.Errorf("container port http = %d, want PUBLISHER_LISTEN_ADDR's port 8080", got)
	}
	svc := m.services["webhooks-publisher"]
	for _, want := range []string{"http", "ops"} {
		if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.TargetPort.String() == want }) {
			t.Errorf("Service webhooks-publisher does not expose the %s port", want)
		}
	}
	if !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("args = %q, want [serve]", c.Args)
	}
}

func TestLogWriterDeployment(t *testing.T) {
	m := loadManifests(t)
	d := m.deployments["webhooks-logwriter"]
	if d == nil {
		t.Fatal("no Deployment webhooks-logwriter")
	}
	env := containerEnv(t, m, d.Spec.Template.Spec.Containers[0])
	useEnv(t, envNames(service.LogWriterSettings{}), env)
	var s service.LogWriterSettings
	if err := config.Load(&s); err != nil {
		t.Fatalf("the log writer would refuse its environment: %v", err)
	}
	checkPod(t, d.Name, d.Spec.Template.Spec, port(t, s.OpsAddr))
	if s.Replicas != 3 || s.URL == "" {
		t.Errorf("STREAMS_REPLICAS = %d and NATS_URL = %q, want 3 and a cluster", s.Replicas, s.URL)
	}
	if kind, _, err := logstore.ParseURL(s.StoreURL); err != nil || kind != logstore.KindPostgres {
		t.Errorf("LOG_STORE_URL is not a PostgreSQL URL (%v): production runs the log on PostgreSQL", err)
	}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "LOG_STORE_URL" && e.ValueFrom == nil {
			t.Error("LOG_STORE_URL holds a password: it must come from the Secret")
		}
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Error("rolling updates must keep every log writer until its replacement is ready (maxUnavailable: 0)")
	}
	if *d.Spec.Replicas < 2 {
		t.Errorf("%d log writer replicas, want at least 2 (they share the consumer)", *d.Spec.Replicas)
	}
}

// The Secret's placeholders must be obvious and must not work: each
// process refuses to start with them.
func TestSecretPlaceholdersAreRefused(t *testing.T) {
	m := loadManifests(t)
	for _, key := range []string{"WEBHOOKS_MASTER_KEY", "PUBLISHER_TOKENS", "PUBLISHER_ADMIN_TOKENS", "LOG_STORE_URL"} {
		if v := m.secretValue(t, secretName, key); !strings.Contains(v, "REPLACE") {
			t.Errorf("%s = %q: not clearly a placeholder", key, v)
		}
	}
	if _, err := secrets.ParseKeyring(m.secretValue(t, secretName, "WEBHOOKS_MASTER_KEY")); err == nil {
		t.Error("the WEBHOOKS_MASTER_KEY placeholder parses as a key")
	}
	var tokens []string
	for _, tok := range strings.Split(m.secretValue(t, secretName, "PUBLISHER_TOKENS"), ",") {
		tokens = append(tokens, strings.TrimSpace(tok))
	}
	if err := (ingest.Config{Tokens: tokens}).Validate(); err == nil {
		t.Error("the PUBLISHER_TOKENS placeholder is accepted as tokens")
	}
	// The store URL's placeholder parses, but its host can never resolve.
	if u, err := url.Parse(m.secretValue(t, secretName, "LOG_STORE_URL")); err != nil || !strings.HasSuffix(u.Hostname(), ".invalid") {
		t.Errorf("the LOG_STORE_URL placeholder names a host that may exist: %v", err)
	}
}
