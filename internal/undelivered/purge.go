package undelivered

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// Purge deletes the undelivered events that f selects, for good: their
// requests are gone and they can no longer be replayed (their outcome
// records stay). It counts them first and calls confirm with the count and
// up to SampleSize entries; it deletes only if confirm returns true, and
// returns ErrNotConfirmed otherwise (a nil confirm never confirms). When
// nothing matches, confirm is not called and Purge returns 0, nil.
//
// It returns how many messages it deleted; messages that disappeared
// meanwhile (replayed, purged or expired) are not counted. Errors wrap
// ErrInvalidFilter, ErrNotConfirmed, ctx's error or the JetStream error,
// with the count deleted so far.
func Purge(ctx context.Context, js jetstream.JetStream, sc streams.Config, f Filter, confirm func(count int, sample []Entry) bool) (int, error) {
	sc = sc.WithDefaults()
	stream, err := js.Stream(ctx, sc.UndeliveredStream)
	if err != nil {
		return 0, fmt.Errorf("undelivered: open stream %s: %w", sc.UndeliveredStream, err)
	}
	refs, sample, err := selectEntries(ctx, js, sc, stream, f)
	if err != nil {
		return 0, err
	}
	if len(refs) == 0 {
		return 0, nil
	}
	if confirm == nil || !confirm(len(refs), sample) {
		return 0, ErrNotConfirmed
	}
	deleted := 0
	for _, ref := range refs {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		err := stream.DeleteMsg(ctx, ref.Seq)
		if err == nil {
			deleted++
			continue
		}
		if _, gerr := stream.GetMsg(ctx, ref.Seq); errors.Is(gerr, jetstream.ErrMsgNotFound) {
			continue
		}
		return deleted, fmt.Errorf("undelivered: purge event %s (seq %d): %w", ref.EventID(), ref.Seq, err)
	}
	return deleted, nil
}
