// Package results owns the JetStream Object Store bucket that holds the
// workflow results a delivery does not carry inline: its settings
// (BucketConfig), the object keys of a run's CSV and rows (CSVKey,
// RowsKey), writes (Put, Exists) and a reader (OpenBucket) that holds one
// chunk of an object in memory at a time however slowly it is read.
//
// The publisher writes an object before it publishes the event that points
// to it; the download server (internal/download) streams it to whoever
// holds a signed link. Non-Go services can write the same objects with any
// NATS client: the key layout is <org>/<run>/<block>.csv and
// <org>/<run>/results.json, each part with bytes outside [A-Za-z0-9_.-]
// escaped as %XX (see CSVKey).
package results
