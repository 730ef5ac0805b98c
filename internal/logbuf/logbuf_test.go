package logbuf

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// sink records each write it receives.
type sink struct {
	mu     sync.Mutex
	writes [][]byte
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, bytes.Clone(p))
	return len(p), nil
}

func (s *sink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(bytes.Join(s.writes, nil))
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.writes)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestInfoLinesAreBatchedAndFlushedOnTime(t *testing.T) {
	out := &sink{}
	w := New(out, 20*time.Millisecond)
	defer w.Close()
	log := zerolog.New(w)
	for i := range 100 {
		log.Info().Int("i", i).Msg("attempt")
	}
	if n := out.count(); n != 0 {
		t.Fatalf("%d writes right after logging info lines; want them buffered", n)
	}
	waitFor(t, 2*time.Second, func() bool { return strings.Count(out.text(), "\n") == 100 })
	if n := out.count(); n > 2 {
		t.Errorf("100 lines took %d writes; want them batched", n)
	}
}

func TestWarningsAreWrittenAtOnceInOrder(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour)
	defer w.Close()
	log := zerolog.New(w)
	log.Info().Msg("first")
	log.Warn().Msg("second")
	text := out.text()
	if !strings.Contains(text, "first") || !strings.Contains(text, "second") || strings.Index(text, "first") > strings.Index(text, "second") {
		t.Fatalf("after a warning the output is %q; want the info line then the warning", text)
	}
	log.Error().Msg("third")
	if !strings.Contains(out.text(), "third") {
		t.Fatalf("an error line was not written at once: %q", out.text())
	}
}

func TestCloseFlushesAndLaterLinesGoThrough(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour)
	log := zerolog.New(w)
	log.Info().Msg("before close")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.text(), "before close") {
		t.Fatalf("Close did not flush: %q", out.text())
	}
	log.Info().Msg("after close")
	if !strings.Contains(out.text(), "after close") {
		t.Fatalf("a line after Close was not written: %q", out.text())
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestConcurrentLinesStayWhole(t *testing.T) {
	out := &sink{}
	w := New(out, time.Millisecond)
	log := zerolog.New(w)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				log.Info().Str("line", strconv.Itoa(g)+"-"+strconv.Itoa(i)+"-"+strings.Repeat("x", 200)).Msg("attempt")
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.text(), "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("%d lines, want %d", len(lines), 8*500)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, `{"level":"info","line":"`) || !strings.HasSuffix(l, `","message":"attempt"}`) {
			t.Fatalf("a line was cut or interleaved: %q", l)
		}
	}
}
