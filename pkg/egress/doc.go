// Package egress owns how the deliverer reaches customer-chosen destinations
// safely: the destination address policy (the SSRF guard), and the HTTP
// client and transport built around it.
//
// The same [Policy] is applied twice:
//
//   - at publish time, [Policy.CheckHost] validates a destination URL's host
//     (every address it resolves to must be acceptable), so a bad URL is a
//     clear error and nothing is published;
//   - at dial time, [Policy.Control] runs inside net.Dialer.Control on every
//     address actually dialed, after DNS resolution and before connect(2).
//     That second check is the one that matters: it defeats DNS rebinding
//     (a name that resolved to a public address at publish time and to
//     10.0.0.1 now) and covers every address a dual-stack dial tries.
//
// The zero Policy refuses every special-purpose address (loopback, private,
// link-local incl. cloud metadata, CGNAT, multicast, broadcast,
// documentation, benchmarking, IPv6 outside 2000::/3, and the IPv4-mapped,
// IPv4-compatible, NAT64, 6to4 and Teredo forms). Local testing needs an
// explicit allow-list ([ParseAllowList]) that callers must log loudly
// ([Policy.IsUnsafe], [Policy.String]); there is no silent default.
//
// [NewClient] never follows redirects (a 3xx is returned as the response, so
// a signed body is never re-POSTed elsewhere) and never uses a proxy (proxy
// environment variables are ignored, or the guard would only see the
// proxy's address).
//
// This package does no logging, reads no configuration and does not decide
// what a refusal means for a delivery (the deliverer treats it as terminal).
package egress
