package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bounds of the scale phase's waits on the cluster.
const (
	// placementTimeout bounds the wait until the partition streams'
	// leaders sit on distinct servers.
	placementTimeout = time.Minute
	// placementPoll is how often the leaders are read while placing them.
	placementPoll = 250 * time.Millisecond
	// leaderReadTimeout bounds one stream or consumer info request.
	leaderReadTimeout = 5 * time.Second
)

// pollUntil calls cond every `every` until it returns nil, and fails
// with cond's last error once within has passed; it returns ctx.Err()
// when ctx ends first.
func pollUntil(ctx context.Context, within, every time.Duration, what string, cond func(context.Context) error) error {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		err := cond(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v: %w", what, within, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// assetLeader is the leader of one stream or consumer; "" while it has none.
type assetLeader struct {
	name   string
	leader string
}

// streamLeaders is a stream's leader and its consumers' leaders.
type streamLeaders struct {
	stream    assetLeader
	consumers []assetLeader
	lanes     bool // the consumers are the lanes of a partition, in lane order
}

// streamLeader returns the leader of stream.
func streamLeader(ctx context.Context, js jetstream.JetStream, stream string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, leaderReadTimeout)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return "", fmt.Errorf("stream %s: %w", stream, err)
	}
	if ci := s.CachedInfo().Cluster; ci != nil {
		return ci.Leader, nil
	}
	return "", nil
}

// consumerLeader returns the leader of consumer on stream.
func consumerLeader(ctx context.Context, js jetstream.JetStream, stream, consumer string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, leaderReadTimeout)
	defer cancel()
	c, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		return "", fmt.Errorf("consumer %s on %s: %w", consumer, stream, err)
	}
	if ci := c.CachedInfo().Cluster; ci != nil {
		return ci.Leader, nil
	}
	return "", nil
}

// readLeaders returns the leader of each stream and of each of its
// consumers (consumers[stream], in order); lanes marks the streams whose
// consumers are lanes.
func readLeaders(ctx context.Context, js jetstream.JetStream, order []string, consumers map[string][]string, lanes map[string]bool) ([]streamLeaders, error) {
	var out []streamLeaders
	for _, stream := range order {
		l, err := streamLeader(ctx, js, stream)
		if err != nil {
			return nil, err
		}
		sl := streamLeaders{stream: assetLeader{stream, l}, lanes: lanes[stream]}
		for _, name := range consumers[stream] {
			cl, err := consumerLeader(ctx, js, stream, name)
			if err != nil {
				return nil, err
			}
			sl.consumers = append(sl.consumers, assetLeader{name, cl})
		}
		out = append(out, sl)
	}
	return out, nil
}

// stepDownStream asks stream's leader to hand its leadership to the
// server named preferred (nats-server 2.11+: a stepdown request with a
// placement). The change is not immediate: the caller reads the leader
// again.
func stepDownStream(ctx context.Context, nc *nats.Conn, stream, preferred string) error {
	body, err := json.Marshal(server.JSApiLeaderStepdownRequest{Placement: &server.Placement{Preferred: preferred}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, leaderReadTimeout)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, fmt.Sprintf(server.JSApiStreamLeaderStepDownT, stream), body)
	if err != nil {
		return fmt.Errorf("step down the leader of %s to %s: %w", stream, preferred, err)
	}
	var resp server.JSApiStreamLeaderStepDownResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("step down the leader of %s: response: %w", stream, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("step down the leader of %s to %s: %w", stream, preferred, resp.Error)
	}
	return nil
}

// spreadMoves returns, for streams whose leader shares a server with an
// earlier stream's, a server leading none of them to move to (index in
// leaders to server name). Streams beyond the number of servers are left
// where they are.
func spreadMoves(leaders, servers []string) map[int]string {
	used := map[string]bool{}
	var crowded []int
	for i, l := range leaders {
		if used[l] {
			crowded = append(crowded, i)
			continue
		}
		used[l] = true
	}
	var free []string
	for _, s := range servers {
		if !used[s] {
			free = append(free, s)
		}
	}
	moves := map[int]string{}
	for j, i := range crowded {
		if j < len(free) {
			moves[i] = free[j]
		}
	}
	return moves
}

// spreadLeaders moves the leaders of streams onto distinct servers of
// servers (as far as there are servers), with leader stepdowns, and waits
// until they are there. It returns the moves made.
func spreadLeaders(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, streams, servers []string) (int, error) {
	moved := 0
	err := pollUntil(ctx, placementTimeout, placementPoll, "leaders of "+strings.Join(streams, ", ")+" on distinct servers", func(ctx context.Context) error {
		leaders := make([]string, len(streams))
		for i, s := range streams {
			l, err := streamLeader(ctx, js, s)
			if err != nil {
				return err
			}
			if l == "" {
				return fmt.Errorf("%s has no leader (election running)", s)
			}
			leaders[i] = l
		}
		moves := spreadMoves(leaders, servers)
		if len(moves) == 0 {
			return nil
		}
		errs := []error{fmt.Errorf("leaders %s", strings.Join(leaders, " "))}
		for i, to := range moves {
			if err := stepDownStream(ctx, nc, streams[i], to); err != nil {
				errs = append(errs, err)
				continue
			}
			moved++
		}
		return errors.Join(errs...)
	})
	return moved, err
}

// String prints the leaders of a stream and its consumers on one line:
// "STREAM n1 | consumer n2, ..." or, for lanes, "STREAM n1 | deliverer_L0..7: n1 n2 ...".
func (sl streamLeaders) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", sl.stream.name, orNone(sl.stream.leader))
	if len(sl.consumers) == 0 {
		return b.String()
	}
	b.WriteString(" | ")
	if sl.lanes {
		prefix, _, _ := strings.Cut(sl.consumers[0].name, "_L")
		fmt.Fprintf(&b, "%s_L0..%d:", prefix, len(sl.consumers)-1)
		for _, c := range sl.consumers {
			b.WriteString(" " + orNone(c.leader))
		}
		return b.String()
	}
	for i, c := range sl.consumers {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", c.name, orNone(c.leader))
	}
	return b.String()
}

// orNone prints a missing leader as "(none)".
func orNone(leader string) string {
	if leader == "" {
		return "(none)"
	}
	return leader
}

// perServer sums up what each server leads: "n1: WEBHOOKS_P3_0,
// WEBHOOKS_ATTEMPTS, 9 consumers; n2: ...".
func perServer(all []streamLeaders, servers []string) string {
	var parts []string
	for _, s := range servers {
		parts = append(parts, s+": "+ledStreams(all, s))
	}
	return strings.Join(parts, "; ")
}

// leaderChanges lists the streams and consumers whose leader differs
// between before and after ("X n1->n2").
func leaderChanges(before, after []streamLeaders) []string {
	var out []string
	was := map[string]string{}
	for _, sl := range before {
		was[sl.stream.name] = sl.stream.leader
		for _, c := range sl.consumers {
			was[sl.stream.name+"/"+c.name] = c.leader
		}
	}
	note := func(key, now string) {
		if old, ok := was[key]; ok && old != now {
			out = append(out, fmt.Sprintf("%s %s->%s", key, orNone(old), orNone(now)))
		}
	}
	for _, sl := range after {
		note(sl.stream.name, sl.stream.leader)
		for _, c := range sl.consumers {
			note(sl.stream.name+"/"+c.name, c.leader)
		}
	}
	return out
}

// ledStreams names the streams server leads and counts the consumers it
// leads: "WEBHOOKS_P3_0, WEBHOOKS_ATTEMPTS, 9 consumers".
func ledStreams(all []streamLeaders, server string) string {
	var led []string
	consumers := 0
	for _, sl := range all {
		if sl.stream.leader == server {
			led = append(led, sl.stream.name)
		}
		for _, c := range sl.consumers {
			if c.leader == server {
				consumers++
			}
		}
	}
	unit := "consumers"
	if consumers == 1 {
		unit = "consumer"
	}
	return strings.Join(append(led, fmt.Sprintf("%d %s", consumers, unit)), ", ")
}
