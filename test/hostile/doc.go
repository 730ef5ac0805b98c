// Package hostile holds end-to-end tests of the deliverer against receivers
// that misbehave on purpose: headers or bodies trickled a byte at a time,
// endless and gigantic bodies, connections that are accepted and never
// answered or reset in the middle of a response, and poison messages mixed
// into a stream of valid ones. Each test runs a real in-process JetStream
// server and a real deliverer on loopback only, and checks that every
// attempt ends within its timeout, that response reads stay bounded, that
// healthy destinations keep being served and that no goroutine leaks.
//
// The package has no code outside its _test.go files.
package hostile
