package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stage is one FROM stage of a Dockerfile, with its instructions.
type stage struct {
	from  string
	lines []string
}

// stages splits a Dockerfile into its stages; comments are dropped and
// continuation lines joined.
func stages(t *testing.T, file string) []stage {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []stage
	var cont string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cont += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, cont = cont+line, ""
		if fields := strings.Fields(line); strings.EqualFold(fields[0], "FROM") {
			out = append(out, stage{from: fields[1]})
			continue
		}
		if len(out) == 0 {
			t.Fatalf("%s: instruction before FROM: %s", file, line)
		}
		out[len(out)-1].lines = append(out[len(out)-1].lines, line)
	}
	return out
}

func TestDockerfilesBuildStaticNonRootImages(t *testing.T) {
	for _, name := range []string{"deliverer", "publisher", "logwriter", "receiver"} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join("docker", "Dockerfile."+name)
			st := stages(t, file)
			if len(st) < 2 {
				t.Fatalf("%s: %d stages, want a build stage and a final stage", file, len(st))
			}
			build, final := st[0], st[len(st)-1]
			if !strings.HasPrefix(build.from, "golang:1.26") {
				t.Errorf("build stage FROM %s, want golang:1.26", build.from)
			}
			var static bool
			for _, l := range build.lines {
				if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "CGO_ENABLED=0") && strings.Contains(l, "go build") && strings.Contains(l, "-trimpath") {
					static = true
				}
			}
			if !static {
				t.Error("no RUN CGO_ENABLED=0 go build -trimpath in the build stage")
			}
			if !strings.HasPrefix(final.from, "gcr.io/distroless/static-debian12:") && final.from != "scratch" {
				t.Errorf("final stage FROM %s, want distroless static or scratch", final.from)
			}
			user := ""
			for _, l := range final.lines {
				if f := strings.Fields(l); strings.EqualFold(f[0], "USER") {
					user = f[1]
				}
			}
			if u := strings.Split(user, ":")[0]; u == "" || u == "root" || u == "0" {
				t.Errorf("final stage USER %q, want a non-root user", user)
			}
			if _, err := os.Stat(file + ".dockerignore"); err != nil {
				t.Errorf("no %s.dockerignore: local data would enter the build context", file)
			}
		})
	}
}

// The local cluster script is checked for syntax, and the configuration it
// writes for each node is parsed with nats-server's own parser.
func TestLocalClusterScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not on PATH")
	}
	script := filepath.Join("..", "scripts", "local-cluster.sh")
	if out, err := exec.Command(bash, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n %s: %v\n%s", script, err, out)
	}
	dir := t.TempDir()
	for n := 1; n <= 3; n++ {
		cmd := exec.Command(bash, script, "config", fmt.Sprint(n))
		cmd.Env = append(os.Environ(), "LOCAL_CLUSTER_DIR="+dir)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s config %d: %v", script, n, err)
		}
		if strings.Contains(string(out), "0.0.0.0") {
			t.Errorf("node %d listens beyond loopback", n)
		}
		file := filepath.Join(dir, fmt.Sprintf("nats-%d.conf", n))
		if err := os.WriteFile(file, out, 0o600); err != nil {
			t.Fatal(err)
		}
		opts := checkNATSConfig(t, file, nil)
		if want := fmt.Sprintf("nats-%d", n); opts.ServerName != want || opts.Host != "127.0.0.1" || opts.Cluster.Host != "127.0.0.1" {
			t.Errorf("node %d: server_name %q on %s, cluster on %s; want %s on 127.0.0.1", n, opts.ServerName, opts.Host, opts.Cluster.Host, want)
		}
	}
	if err := exec.Command(bash, script, "config", "4").Run(); err == nil {
		t.Error("config 4 succeeded: there are three nodes")
	}
}
