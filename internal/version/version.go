// Package version names the release, for the User-Agent of deliveries and
// the start-up log line.
package version

// Version is the release of this build.
const Version = "0.1.0"

// UserAgent is sent on every delivery: the product and its version.
const UserAgent = "Sixtyfour-Webhooks/" + Version
