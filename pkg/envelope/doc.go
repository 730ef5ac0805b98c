// Package envelope owns the wire formats of the webhook pipeline: the two
// payloads a customer receives (the async-job result and the workflow run
// envelope) and the versioned delivery request that publishers put on the
// WEBHOOKS stream and deliverers read back.
//
// It is pure: it imports only the standard library and google/uuid, performs
// no I/O and reads no clock (callers pass the time). Address safety (whether a
// URL's host resolves to a public address) is not checked here; that needs
// DNS and belongs to the egress policy. Here a URL is checked for syntax,
// scheme, length and userinfo only.
//
// Every validation error is a *ValidationError listing each offending field
// by its JSON name, so an HTTP ingest service can return them one by one.
package envelope
