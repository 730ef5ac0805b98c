package secrets

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/retry"
)

// Timing of the Cache's watch. They are constants, not configuration: they
// bound how fast the Cache notices and repairs a broken watch.
const (
	// loadTimeout bounds one attempt to start a watch and receive all its
	// initial values.
	loadTimeout = 10 * time.Second
	// probeInterval is how often the Cache asks the bucket for its last
	// revision, to know that the KV is reachable and the watch not stalled.
	probeInterval = time.Second
	// probeTimeout bounds one probe.
	probeTimeout = 2 * time.Second
	// resyncBackoffMin and resyncBackoffMax bound the wait between attempts
	// to re-establish a watch; it doubles after each failure.
	resyncBackoffMin = 100 * time.Millisecond
	resyncBackoffMax = 5 * time.Second
	// maxBatch is how many queued updates are applied in one snapshot copy.
	maxBatch = 256
)

var (
	errWatchClosed  = errors.New("secrets: watch closed")
	errWatchStalled = errors.New("secrets: watch stalled behind the bucket")
)

// watch is one KV watch and the function that cancels its context.
type watch struct {
	w      jetstream.KeyWatcher
	cancel context.CancelFunc
}

// stop ends the watch. Updates still queued are drained in the background
// so that the client's delivery callback, which blocks on a full channel,
// can return and close the channel.
func (w watch) stop() {
	w.cancel()
	_ = w.w.Stop()
	go func() {
		for range w.w.Updates() {
		}
	}()
}

// run follows the watch until ctx is done, re-establishing it whenever it
// ends or stalls.
func (c *Cache) run(ctx context.Context, w watch) {
	defer close(c.done)
	for {
		// follow returns errWatchClosed or errWatchStalled (both mean
		// resync), or ctx's error (stop).
		_ = c.follow(ctx, w)
		w.stop()
		if ctx.Err() != nil {
			c.markStopped()
			return
		}
		var ok bool
		if w, ok = c.resync(ctx); !ok {
			c.markStopped()
			return
		}
	}
}

// follow applies the watch's updates and probes the bucket every
// probeInterval. A failed probe marks the Cache down but keeps the watch
// (the client's ordered consumer recovers from reconnects by itself). It
// returns errWatchClosed when the watch ends, errWatchStalled when the
// bucket had a revision one probe ago that the watch has still not
// delivered, or ctx's error.
func (c *Cache) follow(ctx context.Context, w watch) error {
	ticker := time.NewTicker(probeInterval)
	defer ticker.Stop()
	var want uint64 // the bucket's last revision at the previous probe
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.w.Updates():
			if !ok {
				return errWatchClosed
			}
			batch, closed := drain(w.w, e)
			c.apply(batch)
			if closed {
				return errWatchClosed
			}
		case <-ticker.C:
			last, known, err := c.lastRevision(ctx)
			if err != nil {
				c.markDown()
				want = 0
				continue
			}
			if want > c.seen {
				return errWatchStalled
			}
			c.markLive()
			if known {
				want = last
			}
		}
	}
}

// drain returns first plus the updates already queued behind it (at most
// maxBatch in all), and whether the channel was closed.
func drain(w jetstream.KeyWatcher, first jetstream.KeyValueEntry) ([]jetstream.KeyValueEntry, bool) {
	batch := []jetstream.KeyValueEntry{first}
	for len(batch) < maxBatch {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return batch, true
			}
			batch = append(batch, e)
		default:
			return batch, false
		}
	}
	return batch, false
}

// resync re-establishes the watch, retrying with backoff, and replaces the
// snapshot with a full reload. Until then the last snapshot keeps serving.
// It returns false when ctx is done first.
func (c *Cache) resync(ctx context.Context) (watch, bool) {
	c.markDown()
	backoff := resyncBackoffMin
	for {
		w, orgs, err := c.load(ctx)
		if err == nil {
			c.snap.Store(&snapshot{orgs: orgs})
			c.markLive()
			return w, true
		}
		if !retry.Pause(ctx, backoff) {
			return watch{}, false
		}
		backoff = min(2*backoff, resyncBackoffMax)
	}
}

// load starts a watch of every key and reads its initial values (up to the
// nil marker) into a fresh map, within loadTimeout. On success the watch is
// left running for follow, and c.seen covers everything the bucket held
// when the watch started.
func (c *Cache) load(ctx context.Context) (watch, map[string]orgSecrets, error) {
	baseline, _, _ := c.lastRevision(ctx) // 0 if unknown: only weakens stall detection
	wctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(loadTimeout, cancel)
	defer timer.Stop()
	kw, err := c.kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return watch{}, nil, err
	}
	w := watch{w: kw, cancel: cancel}
	orgs := make(map[string]orgSecrets)
	seen := c.seen
	c.seen = 0
	for {
		select {
		case <-wctx.Done():
			w.stop()
			c.seen = seen
			return watch{}, nil, wctx.Err()
		case e, ok := <-kw.Updates():
			switch {
			case !ok:
				w.stop()
				c.seen = seen
				return watch{}, nil, errWatchClosed
			case e == nil: // end of the initial values
				c.seen = max(c.seen, baseline)
				return w, orgs, nil
			}
			c.applyEntry(orgs, e)
		}
	}
}

// lastRevision asks the bucket for its last revision (the stream's last
// sequence). known is false when the KV implementation does not expose it;
// err is set when the bucket cannot be reached.
func (c *Cache) lastRevision(ctx context.Context) (last uint64, known bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	st, err := c.kv.Status(ctx)
	if err != nil {
		return 0, false, err
	}
	si, ok := st.(interface{ StreamInfo() *jetstream.StreamInfo })
	if !ok || si.StreamInfo() == nil {
		return 0, false, nil
	}
	return si.StreamInfo().State.LastSeq, true, nil
}
