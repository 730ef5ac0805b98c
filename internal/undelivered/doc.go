// Package undelivered is the operators' view of the WEBHOOKS_UNDELIVERED
// stream: it lists the events whose delivery failed for good, shows one,
// replays a selection to the WEBHOOKS stream, and purges a selection.
//
// A message on the undelivered stream is written by the deliverer
// (internal/deliver): its subject is
// <prefix>.undelivered.<org_id>.<source>.<event_id>, its body is the
// delivery request exactly as it was published, and its Sixtyfour-Failure
// header holds the failure record (an envelope.Outcome as JSON). The
// stream keeps one message per subject and refuses a second one.
//
// # Replay
//
// Replay re-publishes the unchanged request bytes on the event's deliver
// subject with a fresh Nats-Msg-Id, "<event_id>:replay:<n>", and the
// Sixtyfour-Replay header n, where n is the failure record's replay counter
// plus one. Only once JetStream has acknowledged that publish is the
// undelivered message deleted (by sequence), so the event leaves the
// "still failed" view and can be dead-lettered again if the replay fails
// too. The delete is finished even when the context is cancelled after the
// publish was acknowledged.
//
// Replay is safe to interrupt and run again: an event whose replay was
// published but whose undelivered message was not deleted (the process
// died in between) gets the same n, hence the same Nats-Msg-Id, on the
// next run; within the WEBHOOKS dedupe window (2 minutes by default) the
// server drops the copy, and the event counts as already replayed. After
// the window the delivery log decides (ReplayOptions.History): if it shows
// that a deliverer already worked on replay n or later, nothing is published and
// the stale undelivered message is only deleted (or, when that replay
// failed for good, replaced by its newer failure record, see below). The
// residual risk is an event whose earlier replay is still waiting in
// WEBHOOKS, unseen by any deliverer, for longer than the dedupe window when
// Replay runs again: it is delivered twice, with the same event id, which
// receivers dedupe on.
//
// The undelivered subject of an event holds one message. A replay that
// fails for good before its old undelivered message is deleted (a
// destination refused at send time fails within milliseconds) finds the
// subject taken: the deliverer sees that the stored record is from an
// earlier round (a lower replay counter) and replaces it, so the event is
// never left in no stream; the delete here then finds the old message gone.
// Replay also guards the other end: an old message whose outcome shows that
// replay n failed for good is replaced by the request with the newer
// failure record instead of being deleted.
//
// This package never changes the streams' configuration and never reads
// the environment.
package undelivered
