package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// plainEvery is the most often a plain progress line is written.
const plainEvery = time.Second

// progress reports a long operation on stderr: a progress bar on a
// terminal, a line now and then otherwise (logs, CI).
type progress struct {
	w        io.Writer
	label    string
	terminal bool
	bar      *progressbar.ProgressBar
	last     time.Time
	done     int
	total    int
}

func (c *cli) newProgress(label string) *progress {
	return &progress{w: c.errOut, label: label, terminal: c.terminal}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// update is an undelivered.ReplayOptions.Progress callback.
func (p *progress) update(done, total int) {
	p.done, p.total = done, total
	if total == 0 {
		return
	}
	if p.terminal {
		if p.bar == nil {
			p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription(p.label),
				progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionFullWidth())
		}
		_ = p.bar.Set(done)
		return
	}
	if done == 0 || done == total || time.Since(p.last) >= plainEvery {
		p.last = time.Now()
		fmt.Fprintf(p.w, "%s: %d/%d\n", p.label, done, total)
	}
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p.bar != nil {
		if p.done == p.total {
			_ = p.bar.Finish()
		}
		fmt.Fprintln(p.w)
	}
}
