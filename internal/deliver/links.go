package deliver

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// Defaults of Links.
const (
	// DefaultLinkWait is how long a workflow block waits for the previous
	// block's CSV, from the block's start.
	DefaultLinkWait = 120 * time.Second
	// DefaultLinkPoll is how often a waiting event checks for its CSV.
	DefaultLinkPoll = 2 * time.Second
)

// LinkSigner makes the signed download URL of an object; download.Signer
// implements it.
type LinkSigner interface {
	URL(objectKey string, now time.Time) string
}

// Links configures results_download_url: the results Object Store, the
// signer of download URLs, and the wait for a CSV that is not there yet.
// Without it (nil Store or Signer), workflow runs go out with the URL the
// publisher gave, or null.
type Links struct {
	// Store is the results bucket.
	Store jetstream.ObjectStore
	// Signer signs a fresh URL for each attempt.
	Signer LinkSigner
	// Wait: see DefaultLinkWait.
	Wait time.Duration
	// Poll: see DefaultLinkPoll.
	Poll time.Duration
}

// linkPlan is what an attempt does about results_download_url.
type linkPlan int

const (
	linkNone    linkPlan = iota // nothing to sign: render as published
	linkSigned                  // the object exists: sign a fresh URL
	linkWait                    // the CSV is not there yet, and may come
	linkMissing                 // it never came: send null
	linkLost                    // the rows exist only as a download that is missing: fail
)

// planLink decides, at attempt time, what to do about the download link.
func (d *Deliverer) planLink(ctx context.Context, req *envelope.Request, now time.Time) (linkPlan, error) {
	w := req.Workflow
	if w == nil || w.ResultsObject == "" {
		return linkNone, nil
	}
	dataOnlyByLink := len(w.Results) == 0 && w.RowCount > 0
	if d.cfg.Links.Store == nil || d.cfg.Links.Signer == nil {
		// Download links are not configured: never send a run whose rows
		// exist only behind a link as if it had none.
		if dataOnlyByLink {
			return linkLost, nil
		}
		return linkMissing, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := d.cfg.Links.Store.GetInfo(ctx, w.ResultsObject)
	switch {
	case err == nil:
		return linkSigned, nil
	case !errors.Is(err, jetstream.ErrObjectNotFound):
		return linkNone, err
	}
	start := w.StartedAt
	if start.IsZero() {
		start = req.CreatedAt
	}
	if w.IncludeCSVDownloadLink && now.Before(start.Add(d.cfg.Links.Wait)) {
		return linkWait, nil
	}
	if dataOnlyByLink {
		return linkLost, nil
	}
	return linkMissing, nil
}

// park moves an event that waits for its CSV to the waiting subject, where
// the link waiter holds it (no deliverer worker does), and acks it here.
func (d *Deliverer) park(ctx context.Context, ev event, req *envelope.Request) error {
	msg := nats.NewMsg(d.cfg.Streams.WaitingSubject(req.OrgID, req.Source))
	msg.Data = ev.msg.Data()
	msg.Header = copyReplay(ev.msg.Headers())
	msg.Header.Set(nats.MsgIdHdr, req.EventID+":wait:"+itoa(ev.replay))
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := d.js.PublishMsg(ctx, msg); err != nil {
		return err
	}
	return ev.msg.Ack()
}

// copyReplay returns a header with only the replay counter of h.
func copyReplay(h nats.Header) nats.Header {
	out := nats.Header{}
	if r := h.Get(HeaderReplay); r != "" {
		out.Set(HeaderReplay, r)
	}
	return out
}
