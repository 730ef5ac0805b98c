// Package ssrf holds the end-to-end test of the SSRF guard: a real
// deliverer, on a real JetStream server, is given delivery requests aimed
// at private, CGNAT, link-local (cloud metadata), unique-local and other
// loopback addresses — as IP literals in every notation, as host names in
// /etc/hosts, as a DNS name that rebinds from a public to a private address
// between publish time and dial time, and as redirects from an allowed
// receiver — and canary listeners on those addresses must see no
// connection at all.
//
// The test never sends a packet to a non-loopback address outside a network
// namespace it created: it re-executes its own binary under
// `unshare --net --mount` (root only; skipped otherwise), and the child,
// which checks that it is in a fresh namespace before anything else, puts
// the canary addresses on that namespace's own loopback interface and
// bind-mounts its own /etc/hosts, /etc/resolv.conf and /etc/nsswitch.conf in
// its private mount namespace.
//
// The package has no code outside its _test.go files.
package ssrf
