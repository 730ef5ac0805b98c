package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// jobResult is the result object of every job event, padded so that the
// POSTed body (the job result envelope) is about 1 KiB.
var jobResult = json.RawMessage(`{"name":"John Doe","company":"Acme Inc","email":[["john.doe@acme.com","OK"]],"notes":"` +
	strings.Repeat("x", 860) + `"}`)

// workflowResults are the rows of every workflow event, padded so that the
// POSTed workflow envelope is about 1 KiB.
var workflowResults = json.RawMessage(`[{"name":"John Doe","company":"Acme Inc","email":"john.doe@acme.com","notes":"` +
	strings.Repeat("x", 560) + `"}]`)

// publishStallWait is how long an asynchronous publish waits for room in
// the window of unacknowledged publishes (slow with fsync on every write).
const publishStallWait = 30 * time.Second

// stamp is a task or run id carrying the publish time for the sink.
func stamp(now time.Time, i int) string {
	return stampMarker + strconv.FormatInt(now.UnixNano(), 10) + "-" + strconv.Itoa(i)
}

// jobMsg builds the WEBHOOKS message of a job event for url, as a
// publisher would (event id as Nats-Msg-Id).
func (e *env) jobMsg(url, taskID string, now time.Time) (*nats.Msg, error) {
	req, err := envelope.NewJobRequest(now, benchOrg, url, envelope.JobResult{
		TaskID: taskID, Status: envelope.StatusCompleted, TaskType: "find_email", Result: jobResult,
	})
	if err != nil {
		return nil, err
	}
	return e.requestMsg(req)
}

// workflowMsg builds the message of a workflow run for url with the
// block's per-attempt timeout.
func (e *env) workflowMsg(url, runID string, now time.Time, timeoutSeconds float64) (*nats.Msg, error) {
	req, err := envelope.NewWorkflowRequest(now, benchOrg, url, envelope.WorkflowRun{
		WorkflowID: "wf_bench", RunID: runID, RowCount: 1, PreviousBlockID: "blk_1",
		PreviousBlockName: "lead_enrichment", PreviousBlockNumber: 1, Results: workflowResults,
	}, envelope.Block{TimeoutSeconds: timeoutSeconds})
	if err != nil {
		return nil, err
	}
	return e.requestMsg(req)
}

func (e *env) requestMsg(req *envelope.Request) (*nats.Msg, error) {
	data, err := req.Encode()
	if err != nil {
		return nil, err
	}
	msg := nats.NewMsg(e.sc.DeliverSubject(req.OrgID, req.Source))
	msg.Data = data
	msg.Header.Set(nats.MsgIdHdr, req.EventID)
	return msg, nil
}

// publishBacklog stores n messages from build with asynchronous publishes
// and returns once the server has acknowledged them all.
func (e *env) publishBacklog(ctx context.Context, n int, build func(i int) (*nats.Msg, error)) (time.Duration, error) {
	start := time.Now()
	for i := range n {
		msg, err := build(i)
		if err != nil {
			return 0, err
		}
		if _, err := e.js.PublishMsgAsync(msg, jetstream.WithStallWait(publishStallWait)); err != nil {
			return 0, err
		}
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return time.Since(start), nil
}

// publishAtRate publishes rate messages per second from build for d,
// catching up after every tick of a 1 ms ticker so that the offered rate
// holds whatever the ticker's jitter. It returns how many it published.
func (e *env) publishAtRate(ctx context.Context, rate float64, d time.Duration, build func(i int, now time.Time) (*nats.Msg, error)) (int, error) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	start := time.Now()
	sent := 0
	for {
		now := time.Now()
		elapsed := now.Sub(start)
		if elapsed >= d {
			return sent, nil
		}
		for due := int(rate * elapsed.Seconds()); sent < due; sent++ {
			msg, err := build(sent, time.Now())
			if err != nil {
				return sent, err
			}
			if _, err := e.js.PublishMsgAsync(msg, jetstream.WithStallWait(publishStallWait)); err != nil {
				return sent, err
			}
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return sent, ctx.Err()
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
