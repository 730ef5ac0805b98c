// Package logbuf batches log lines into fewer writes. A deliverer logs one
// line per attempt; written one by one, each line is a system call, which
// at thousands of attempts per second costs more CPU than the logging
// itself. A Writer keeps info and debug lines in a buffer that is written
// when it fills and at least every flush interval; warnings and errors are
// written at once, with everything buffered before them, so that they are
// never late and the order of lines is kept. Lines still buffered when the
// process dies without Close (SIGKILL, a fatal runtime error) are lost: at
// most one flush interval of info lines.
package logbuf

import (
	"bufio"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of New.
const (
	// DefaultFlushInterval bounds how long an info line waits in the buffer.
	DefaultFlushInterval = 100 * time.Millisecond
	// DefaultSize is the buffer size: a full buffer is written at once.
	DefaultSize = 64 << 10
)

// Writer is a buffered zerolog.LevelWriter safe for concurrent use. Each
// Write must be one whole line (zerolog writes one event per call), so
// lines from different goroutines never interleave.
type Writer struct {
	mu     sync.Mutex
	buf    *bufio.Writer
	closed bool

	stop chan struct{}
	done chan struct{}
}

// New returns a Writer on out that flushes every interval
// (DefaultFlushInterval when interval <= 0). Close stops it.
func New(out io.Writer, interval time.Duration) *Writer {
	if interval <= 0 {
		interval = DefaultFlushInterval
	}
	w := &Writer{buf: bufio.NewWriterSize(out, DefaultSize), stop: make(chan struct{}), done: make(chan struct{})}
	go w.flushEvery(interval)
	return w
}

// Write buffers one line. After Close it writes through.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if err == nil && w.closed {
		err = w.buf.Flush()
	}
	return n, err
}

// WriteLevel buffers a line below warn level, and writes a warning or
// error at once together with what was buffered before it.
func (w *Writer) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if err == nil && (level >= zerolog.WarnLevel && level != zerolog.NoLevel || w.closed) {
		err = w.buf.Flush()
	}
	return n, err
}

// Flush writes what is buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Flush()
}

// Close stops the periodic flush and writes what is buffered; later
// writes go straight through. It is safe to call more than once.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	return w.Flush()
}

func (w *Writer) flushEvery(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			_ = w.Flush()
		}
	}
}
