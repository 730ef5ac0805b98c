// Package runresult is what a workflow engine calls, after publishing a
// run's outgoing_webhook delivery, to read the three columns the block adds
// to the run's output: webhook_status_code, webhook_response and
// webhook_success.
//
// The columns come from the event's final attempt record on
// WEBHOOKS_ATTEMPTS (subject <prefix>.attempt.<org_id>.workflow, one subject
// per organization, kept STREAMS_ATTEMPTS_MAX_AGE: 24 h by default),
// written by the deliverer once the event is delivered or undelivered.
// Await waits for it, woken by each write; Lookup reads it once. Both read
// the organization's workflow records from the event's creation time (the
// event id is a UUID version 7), skipping other events' records by header.
// For older events, read the delivery log (GET /v1/deliveries/{event_id}). The package only reads: it never publishes, acks or
// changes a stream, and it does not create the streams (streams.Ensure).
//
// A final outcome arrives within the retry schedule (about 31 s for six
// attempts of up to 150 s each: at most about 16 minutes), or later when the
// deliverers are down or an event waits for its CSV; bound Await with ctx.
package runresult
