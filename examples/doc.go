// Package examples holds receiver examples for signed Sixtyfour webhooks in
// Go (go-receiver), Python (python/verify.py) and Node.js (node/verify.js),
// and a test that signs bodies with pkg/sign and checks that all three
// verifiers agree on what they accept and reject. It has no library code.
package examples
