package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// published is one event a test published.
type published struct {
	id   string
	path string
	org  string
}

// publishing is a run of publishAll in the background.
type publishing struct {
	done   chan struct{}
	events []published
	resent atomic.Int64 // publishes given up by pkg/publish and repeated with the same request
	err    error
	took   time.Duration
}

// publishAll publishes n job events, 64 at a time, to the receiver's paths
// given by plan, in the background, while the test goes on. Like a job
// runner, it publishes a request again (same event id) when pkg/publish
// gives up with ErrUnavailable, as it may while a stream leader is elected.
// It stops when the test ends. Every event is org_cluster's.
func publishAll(t testing.TB, pub *publish.Publisher, base string, n int) *publishing {
	return publishSpread(t, pub, base, n, 1)
}

// orgOf is the organization of event i of a run spread over orgs
// organizations: org_cluster when there is one.
func orgOf(i, orgs int) string {
	if orgs <= 1 {
		return "org_cluster"
	}
	return fmt.Sprintf("org_cluster_%d", i%orgs)
}

// publishSpread is publishAll with the events spread over orgs
// organizations in turn.
func publishSpread(t testing.TB, pub *publish.Publisher, base string, n, orgs int) *publishing {
	p := &publishing{done: make(chan struct{}), events: make([]published, n)}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(func() { cancel(); <-p.done })
	go func() {
		defer close(p.done)
		began := time.Now()
		var wg sync.WaitGroup
		var once sync.Once
		sem := make(chan struct{}, 64)
		for i := range n {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				path := plan(i)
				org := orgOf(i, orgs)
				id, err := p.publish(ctx, pub, org, base+path, i)
				if err != nil {
					once.Do(func() { p.err = err })
					return
				}
				p.events[i] = published{id: id, path: path, org: org}
			})
		}
		wg.Wait()
		p.took = time.Since(began)
	}()
	return p
}

// publish publishes event i until it is stored or ctx ends, and returns its id.
func (p *publishing) publish(ctx context.Context, pub *publish.Publisher, org, url string, i int) (string, error) {
	req, err := envelope.NewJobRequest(time.Now(), org, url, job(i))
	if err != nil {
		return "", err
	}
	for {
		_, err := pub.Publish(ctx, req)
		if err == nil {
			return req.EventID, nil
		}
		if !errors.Is(err, publish.ErrUnavailable) || ctx.Err() != nil {
			return "", err
		}
		p.resent.Add(1)
		select { // the caller's own back-off before publishing the same request again
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// wait waits for every event to be stored and returns them; it fails the
// test if one could not be.
func (p *publishing) wait(t testing.TB) []published {
	t.Helper()
	<-p.done
	if p.err != nil {
		t.Fatalf("publish: %v", p.err)
	}
	t.Logf("%d events published in %v (%d publishes repeated by the caller after ErrUnavailable)", len(p.events), p.took.Round(time.Millisecond), p.resent.Load())
	return p.events
}

// job is a valid completed job result.
func job(i int) envelope.JobResult {
	return envelope.JobResult{TaskID: fmt.Sprintf("task-%d", i), Status: envelope.StatusCompleted, TaskType: "find_email",
		Result: []byte(`{"email":[["john.doe@acme.com","OK"]]}`)}
}

// tally is the end state of a run, per event.
type tally struct {
	events, delivered, deadLettered, lost int
	duplicates                            int // 2xx-answered POSTs beyond the first, over all events
	posts                                 int
	// finalOutcomes counts events whose latest record on WEBHOOKS_OUTCOMES is
	// final. Recording an outcome is best effort (three tries of 2 s): while
	// the outcome stream has no leader a record can be missing or stale.
	finalOutcomes int
}

// check looks up every published event: an ok or flaky event must have been
// answered 2xx at least once, a down event must be on WEBHOOKS_UNDELIVERED
// (and never answered 2xx). Missing ones are reported and counted as lost.
func check(t testing.TB, js jetstream.JetStream, sc streams.Config, rc *receiver, events []published) tally {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	undelivered, err := js.Stream(ctx, sc.UndeliveredStream)
	if err != nil {
		t.Fatal(err)
	}
	records := jstest.AllRecords(ctx, t, js, sc)
	var tl tally
	for _, ev := range events {
		tl.events++
		if o := envelope.OutcomeOf(records[ev.id]); o != nil && o.Final {
			tl.finalOutcomes++
		}
		ok, posts := rc.counts(ev.id)
		tl.posts += posts
		if ok > 1 {
			tl.duplicates += ok - 1
		}
		if ev.path != pathDown {
			if ok == 0 {
				tl.lost++
				t.Errorf("event %s (%s) lost: never answered 2xx, %d POSTs", ev.id, ev.path, posts)
				continue
			}
			tl.delivered++
			continue
		}
		_, err := undelivered.GetLastMsgForSubject(ctx, sc.UndeliveredSubject(ev.org, envelope.SourceJob, ev.id))
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			tl.lost++
			t.Errorf("event %s (down) lost: not on %s after %d POSTs", ev.id, sc.UndeliveredStream, posts)
		case err != nil:
			t.Fatalf("look up undelivered %s: %v", ev.id, err)
		default:
			tl.deadLettered++
		}
	}
	return tl
}
