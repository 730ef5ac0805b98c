package streams

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// OverflowLanes is how many lanes the overflow stream has, each with the
// deliverers' durable consumer <Consumer>_O<i>. An organization's moved
// events go to lane FNV-1a(org id) modulo OverflowLanes.
const OverflowLanes = 8

// Headers of a message on the overflow stream, besides those it had.
const (
	// HeaderQueuedAt is when the event was first stored (its time on the
	// stream it was moved from), RFC 3339: its attempt records keep it.
	HeaderQueuedAt = "Sixtyfour-Queued-At"
	// HeaderMovedFrom is the stream and sequence it was moved from,
	// <stream>/<sequence>.
	HeaderMovedFrom = "Sixtyfour-Moved-From"
)

// QueuedAt returns when a pending delivery's event was first stored: the
// HeaderQueuedAt of a message moved to the overflow stream, else stored
// (the message's own time on its stream).
func QueuedAt(h nats.Header, stored time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderQueuedAt)); err == nil {
		return t
	}
	return stored
}

// MovedMsg is the copy of a pending delivery that a deliverer stores on
// the overflow stream when it moves it: on the organization's overflow
// subject, with the original body and headers (but JetStream's own), plus
// HeaderQueuedAt (stored, when it was first stored) and HeaderMovedFrom;
// its Nats-Msg-Id is the original one (a replay's, <event id>:<n>, is how
// its status finds it) followed by ~moved-<stream>-<sequence>, unique per
// message moved, so JetStream drops a second move of the same message.
func (c Config) MovedMsg(orgID string, source envelope.Source, h nats.Header, data []byte, stream string, seq uint64, stored time.Time) *nats.Msg {
	out := nats.NewMsg(c.OverflowSubject(orgID, source))
	for k, v := range h {
		if !strings.HasPrefix(k, "Nats-") && k != HeaderQueuedAt && k != HeaderMovedFrom {
			out.Header[k] = append([]string(nil), v...)
		}
	}
	from := strconv.FormatUint(seq, 10)
	out.Header.Set(HeaderQueuedAt, QueuedAt(h, stored).UTC().Format(time.RFC3339Nano))
	out.Header.Set(HeaderMovedFrom, stream+"/"+from)
	out.Header.Set(jetstream.MsgIDHeader, h.Get(jetstream.MsgIDHeader)+"~moved-"+stream+"-"+from)
	out.Data = data
	return out
}

// overflowSuffix names the overflow stream after the deliver stream.
const overflowSuffix = "_OVERFLOW"

// OverflowStream is the stream that holds the events a deliverer moved out
// of a lane because their organization had a backlog there while other
// organizations waited behind it: WEBHOOKS_OVERFLOW by default.
func (c Config) OverflowStream() string { return c.DeliverStream + overflowSuffix }

// OverflowPartition is the overflow stream as a source of deliveries.
func (c Config) OverflowPartition() Partition {
	return Partition{Stream: c.OverflowStream(), Overflow: true}
}

// overflowPrefix starts every overflow subject.
func (c Config) overflowPrefix() string { return c.SubjectPrefix + ".overflow." }

// OverflowSubject is where a deliverer moves an event of the organization:
// <prefix>.overflow.<lane>.<org>.<source>.
func (c Config) OverflowSubject(orgID string, source envelope.Source) string {
	return c.overflowPrefix() + strconv.Itoa(partitionOf(orgID, OverflowLanes)) + "." + orgID + "." + string(source)
}

// OverflowStreamConfig is WEBHOOKS_OVERFLOW: WEBHOOKS's settings (a work
// queue on file storage) on the overflow subjects.
func (c Config) OverflowStreamConfig() jetstream.StreamConfig {
	sc := c.DeliverStreamConfig()
	sc.Name = c.OverflowStream()
	sc.Description = "Pending webhook deliveries moved out of a lane where their organization's backlog held others up"
	sc.Subjects = []string{c.overflowPrefix() + ">"}
	return sc
}

// overflowLanes returns the overflow stream's lanes.
func (c Config) overflowLanes(p Partition) []Lane {
	out := make([]Lane, OverflowLanes)
	for i := range out {
		out[i] = Lane{Partition: p, Index: i, Consumer: c.Consumer + "_O" + strconv.Itoa(i),
			Filter: c.overflowPrefix() + strconv.Itoa(i) + ".>"}
	}
	return out
}

// parseOverflowSubject reads <lane>.<org>.<source> after the overflow
// prefix; the lane must be the organization's.
func parseOverflowSubject(tok []string) (orgID string, source envelope.Source, ok bool) {
	if len(tok) != 3 || tok[0] != strconv.Itoa(partitionOf(tok[1], OverflowLanes)) {
		return "", "", false
	}
	return tok[1], envelope.Source(tok[2]), true
}

// ensureOverflow creates the overflow stream and the deliverers' consumer
// of each of its lanes.
func ensureOverflow(ctx context.Context, js jetstream.JetStream, c Config) (PartitionResources, error) {
	return ensureLanes(ctx, js, c, c.OverflowPartition(), c.OverflowStreamConfig())
}

// withOverflow appends the overflow stream to parts when it exists (a
// deployment whose streams were ensured by an earlier release has none).
func withOverflow(ctx context.Context, js jetstream.JetStream, c Config, parts []Partition) ([]Partition, error) {
	p := c.OverflowPartition()
	if _, err := js.Stream(ctx, p.Stream); err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return parts, nil
		}
		return nil, fmt.Errorf("streams: look up %s: %w", p.Stream, err)
	}
	return append(parts, p), nil
}
