package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// partitions runs the partition operations: mapping, ensure, status,
// retire (the steps of a change of STREAMS_PARTITIONS, in the README).
func (c *cli) partitions(args []string) error {
	if len(args) == 0 {
		return usagef("partitions needs a subcommand: mapping, ensure, status or retire")
	}
	op, args := args[0], args[1:]
	switch op {
	case "mapping":
		return c.partitionMapping(args)
	case "ensure":
		return c.ensurePartitions(args)
	case "status":
		return c.partitionStatus(args)
	case "retire":
		return c.retirePartitions(args)
	}
	return usagef("unknown partitions subcommand %q (want mapping, ensure, status or retire)", op)
}

// noArgs parses a subcommand that takes only its flags.
func noArgs(name string, args []string) error {
	fs := newFlags(name)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("%s: unexpected argument %q", name, rest[0])
	}
	return nil
}

// partitionMapping prints the mapping block every NATS server needs for
// STREAMS_PARTITIONS; it connects to nothing.
func (c *cli) partitionMapping(args []string) error {
	if err := noArgs("partitions mapping", args); err != nil {
		return err
	}
	var s config.Common
	if err := config.Load(&s); err != nil {
		return err
	}
	sc := s.Streams()
	if !sc.Partitioned() {
		fmt.Fprintln(c.errOut, "STREAMS_PARTITIONS=1: no mapping; every pending delivery stays on "+sc.DeliverStream+". Remove any webhooks mapping from the servers' configuration.")
		return nil
	}
	fmt.Fprintf(c.errOut, "Add this block to every NATS server's configuration, then reload each server (nats-server --signal reload), after 'webhooksctl partitions ensure' with STREAMS_PARTITIONS=%d:\n", sc.Partitions)
	fmt.Fprint(c.out, sc.MappingConfig())
	return nil
}

// ensurePartitions creates the streams and consumers of STREAMS_PARTITIONS
// (every deliverer and publisher does so at start-up too): the first step
// of a change of the count, before the servers get the new mapping.
func (c *cli) ensurePartitions(args []string) error {
	if err := noArgs("partitions ensure", args); err != nil {
		return err
	}
	s, err := c.connect()
	if err != nil {
		return err
	}
	defer s.close()
	res, err := streams.Ensure(c.ctx, s.js, s.streams)
	if err != nil {
		return err
	}
	if len(res.Partitions) == 0 {
		fmt.Fprintf(c.out, "STREAMS_PARTITIONS=1: %s and its consumer are in place\n", s.streams.DeliverStream)
		return nil
	}
	for _, p := range res.Partitions {
		fmt.Fprintf(c.out, "%s (partition %s): stream and %d lane consumers in place\n", p.Partition.Stream, p.Partition.Label(), len(p.Consumers))
	}
	return nil
}

// partitionRow is one deliver stream in partitions status.
type partitionRow struct {
	Stream     string `json:"stream"`
	Partition  string `json:"partition"`
	Role       string `json:"role"` // configured, draining, overflow
	Messages   uint64 `json:"messages"`
	Pending    uint64 `json:"pending"`
	AckPending int    `json:"ack_pending"`
}

// partitionStatus lists every deliver stream with its messages and lag.
func (c *cli) partitionStatus(args []string) error {
	fs := newFlags("partitions status")
	asJSON := fs.Bool("json", false, "print JSON")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usagef("partitions status: unexpected argument %q", rest[0])
	}
	s, err := c.connect()
	if err != nil {
		return err
	}
	defer s.close()
	lags, err := streams.DeliverLag(c.ctx, s.js, s.streams)
	if err != nil {
		return err
	}
	rows := make([]partitionRow, 0, len(lags))
	for _, l := range lags {
		st, err := s.js.Stream(c.ctx, l.Partition.Stream)
		if err != nil {
			return fmt.Errorf("open %s: %w", l.Partition.Stream, err)
		}
		info, err := st.Info(c.ctx)
		if err != nil {
			return fmt.Errorf("read %s: %w", l.Partition.Stream, err)
		}
		role := "configured"
		switch {
		case l.Partition.Overflow:
			role = "overflow"
		case l.Partition.Of != 0 && l.Partition.Of != s.streams.Partitions:
			role = "draining"
		}
		rows = append(rows, partitionRow{Stream: l.Partition.Stream, Partition: l.Partition.Label(), Role: role,
			Messages: info.State.Msgs, Pending: l.Pending, AckPending: l.AckPending})
	}
	if *asJSON {
		return json.NewEncoder(c.out).Encode(map[string]any{"partitions": s.streams.Partitions, "streams": rows})
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tPARTITION\tROLE\tMESSAGES\tPENDING\tACK PENDING")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\n", r.Stream, r.Partition, r.Role, r.Messages, r.Pending, r.AckPending)
	}
	return tw.Flush()
}

// retirePartitions deletes the drained streams of other partition counts;
// those still holding messages are named and kept.
func (c *cli) retirePartitions(args []string) error {
	if err := noArgs("partitions retire", args); err != nil {
		return err
	}
	s, err := c.connect()
	if err != nil {
		return err
	}
	defer s.close()
	removed, busy, err := streams.RetirePartitions(c.ctx, s.js, s.streams)
	for _, name := range removed {
		fmt.Fprintf(c.out, "removed %s (drained)\n", name)
	}
	names := make([]string, 0, len(busy))
	for name := range busy {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(c.out, "kept %s: %d messages still to deliver; run retire again once it is drained\n", name, busy[name])
	}
	if err != nil {
		return err
	}
	if len(removed) == 0 && len(busy) == 0 {
		fmt.Fprintf(c.out, "nothing to retire: only the streams of STREAMS_PARTITIONS=%d exist\n", s.streams.Partitions)
	}
	return nil
}
