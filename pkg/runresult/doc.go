// Package runresult is what a workflow engine calls, after publishing a
// run's outgoing_webhook delivery, to read the three columns the block adds
// to the run's output: webhook_status_code, webhook_response and
// webhook_success.
//
// The columns come from the event's final outcome on WEBHOOKS_OUTCOMES
// (subject <prefix>.outcome.<org_id>.workflow.<event_id>, one message per
// event, the latest kept), written by the deliverer once the event is
// delivered or undelivered. Await waits for it, woken by the write; Lookup
// reads it once. The package only reads: it never publishes, acks or
// changes a stream, and it does not create the streams (streams.Ensure).
//
// A final outcome arrives within the retry schedule (about 31 s for six
// attempts of up to 150 s each: at most about 16 minutes), or later when the
// deliverers are down or an event waits for its CSV; bound Await with ctx.
package runresult
