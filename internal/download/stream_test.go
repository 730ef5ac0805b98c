package download_test

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/embedded"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/results"
)

// serverEnv makes the test binary run a JetStream server instead of the
// tests (see outOfProcessServer).
const serverEnv = "DOWNLOAD_TEST_SERVER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(serverEnv); dir != "" {
		s, err := embedded.Start(embedded.Config{Port: -1, StoreDir: dir})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(s.ClientURL())
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
		s.Shutdown()
		return
	}
	os.Exit(m.Run())
}

// outOfProcessServer runs a JetStream server in a child process, so that
// the heap measured here is the handler's and the NATS client's only (an
// in-process server's block cache would add 8-16 MiB).
func outOfProcessServer(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serverEnv+"="+t.TempDir())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "nats://") {
		t.Fatalf("child server: %q, %v", line, err)
	}
	return strings.TrimSpace(line)
}

// csvSource yields size bytes of CSV rows, generated as read (never whole
// in memory).
type csvSource struct {
	size, off, row int
	pending        []byte
}

func (c *csvSource) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && c.off < c.size {
		if len(c.pending) == 0 {
			c.row++
			r := strconv.Itoa(c.row)
			c.pending = []byte(r + ",Person " + r + ",person" + r + "@example.com,Acme Inc\n")
		}
		k := min(copy(p[n:], c.pending), c.size-c.off)
		c.pending = c.pending[k:]
		n += k
		c.off += k
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// fetchPaused GETs url, reads half, measures the live heap growth since
// before the request, reads the rest, and returns the growth, the byte
// count and the SHA-256 of what arrived.
func fetchPaused(t *testing.T, url string, size int) (growth int64, n int64, sum []byte) {
	t.Helper()
	before := heapAlloc()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(size) {
		t.Fatalf("status %d, Content-Length %d; want 200, %d", resp.StatusCode, resp.ContentLength, size)
	}
	h := sha256.New()
	first, err := io.CopyN(h, resp.Body, int64(size/2))
	if err != nil {
		t.Fatal(err)
	}
	// The client pauses: the handler blocks writing, and whatever it (or
	// the NATS client under it) has buffered is live now.
	growth = int64(heapAlloc()) - int64(before)
	rest, err := io.Copy(h, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return growth, first + rest, h.Sum(nil)
}

// TestHandlerStreamsLargeObject puts a 20 MiB CSV, downloads it with a
// client that pauses half-way, and measures the live heap at the pause: a
// handler that held the object whole (or a NATS client that buffered it)
// would hold around 10 MiB more then.
func TestHandlerStreamsLargeObject(t *testing.T) {
	if testing.Short() {
		t.Skip("20 MiB stream")
	}
	const size = 20 << 20
	nc, err := nats.Connect(outOfProcessServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := jstest.Context(t, 2*time.Minute)
	plain, err := js.CreateOrUpdateObjectStore(ctx, results.BucketConfig("", 1))
	if err != nil {
		t.Fatal(err)
	}
	bucket, err := results.OpenBucket(ctx, js, "")
	if err != nil {
		t.Fatal(err)
	}
	key := results.CSVKey("org_1", "run_big", "blk_2")
	want := sha256.New()
	if err := results.Put(ctx, bucket, key, io.TeeReader(&csvSource{size: size}, want), ""); err != nil {
		t.Fatal(err)
	}
	_, s := serve(t, bucket, io.Discard, signedAt)
	growth, n, sum := fetchPaused(t, s.URL(key, signedAt), size)
	t.Logf("results.Bucket: live heap grew %.2f MiB half-way through a %d MiB download", float64(growth)/(1<<20), size>>20)
	if growth > size/4 {
		t.Errorf("heap grew by %d bytes half-way through a %d-byte download, want < %d", growth, size, size/4)
	}
	if n != size || string(sum) != string(want.Sum(nil)) {
		t.Errorf("client received %d bytes (same SHA-256: %v), want exactly the %d bytes stored", n, string(sum) == string(want.Sum(nil)), size)
	}

	// For comparison only (not asserted, it depends on timing): jetstream's
	// own Get, which pushes chunks ahead of the reader.
	_, s = serve(t, plain, io.Discard, signedAt)
	growth, n, _ = fetchPaused(t, s.URL(key, signedAt), size)
	t.Logf("jetstream ObjectStore.Get (for comparison): live heap grew %.2f MiB half-way (%d bytes received)", float64(growth)/(1<<20), n)
}
