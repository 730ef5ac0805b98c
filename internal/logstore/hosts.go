package logstore

import (
	"strconv"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// Limits of Store.Hosts.
const (
	// DefaultHostsLimit is the number of hosts Hosts returns when given
	// no limit.
	DefaultHostsLimit = 10
	// MaxHostsLimit is the most hosts Hosts may be asked for.
	MaxHostsLimit = 100
)

// CircuitOpenText is the part of an attempt's error that says the host's
// open circuit refused it: the deliverer's reason is "connection error:
// circuit open for host <host> after <n> consecutive failures; nothing
// sent (...)", after "attempts exhausted after <n> attempts: " on a last
// attempt. HostStat.CircuitOpen counts the unsent attempts whose error
// holds it.
const CircuitOpenText = "circuit open for host "

// CheckHosts validates the arguments of Store.Hosts and returns the limit
// to apply: DefaultHostsLimit for 0. Every problem is reported, as a
// *QueryError naming the field (org_id, to, limit), which wraps
// ErrInvalidQuery.
func CheckHosts(orgID string, from, to time.Time, limit int) (int, error) {
	var qe QueryError
	if orgID != "" && !envelope.ValidOrgID(orgID) {
		qe.Add("org_id", "must match [A-Za-z0-9_-]{1,64}")
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		qe.Add("to", "must be after from")
	}
	if limit == 0 {
		limit = DefaultHostsLimit
	}
	if limit < 1 || limit > MaxHostsLimit {
		qe.Add("limit", "must be between 1 and "+strconv.Itoa(MaxHostsLimit))
	}
	return limit, qe.Err()
}
