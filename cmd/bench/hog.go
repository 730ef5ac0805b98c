package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// runHogChild is a hog child (modeHog): it keeps every core busy with one
// spinning goroutine per CPU, doing no I/O, from "ready" until stdin
// closes or ctx ends, then says "result {}". It stands for CPU load that
// has nothing to do with the pipeline.
func runHogChild(ctx context.Context, in io.Reader, out io.Writer) error {
	done := make(chan struct{})
	var spinners sync.WaitGroup
	for range runtime.NumCPU() {
		spinners.Go(func() { spin(done) })
	}
	fmt.Fprintln(out, "ready")
	cmds := lines(in)
	for open := true; open; {
		select {
		case _, open = <-cmds:
		case <-ctx.Done():
			open = false
		}
	}
	close(done)
	spinners.Wait()
	fmt.Fprintln(out, "result {}")
	return nil
}

// spin burns CPU until done is closed, looking at done every 65,536
// turns.
func spin(done <-chan struct{}) {
	for i := 1; ; i++ {
		if i%(1<<16) == 0 {
			select {
			case <-done:
				return
			default:
			}
		}
	}
}
