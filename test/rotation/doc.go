// Package rotation holds end-to-end tests of signing-secret rotation: a
// real JetStream server, the secrets store and watch-backed cache, a real
// deliverer and httptest receivers holding only the old or only the new
// secret. It has no non-test code.
package rotation
