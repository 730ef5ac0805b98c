package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// testRequestCapture: the request headers and body of an attempt come
// back as written (any text, a body of MaxRecordedBody bytes and its
// truncated flag); an attempt without them (a record from before they
// were recorded, a later attempt of a round, one that sent nothing) reads
// as nil and "", next to one that has them.
func testRequestCapture(t *testing.T, s suite) {
	st := s.store(t)
	base := Record("org-cap", "cap-1", fixedNow().Add(-3*time.Hour))
	headers := func(attempt string) map[string]string {
		return map[string]string{
			"Content-Type":               "application/json",
			"Content-Length":             "65536",
			"Sixtyfour-Signature":        "t=1736942400,v1=d375345f…,v1=0a1b2c3d…",
			"Sixtyfour-Delivery-Attempt": attempt,
			"X-Note":                     `quotes " and \ backslash, "é" 🙂 <tag> & a tab	here`,
		}
	}
	a1 := attempt(base, 0, 1, retry, 503)
	a1.RequestHeaders = headers("1")
	// Exactly MaxRecordedBody bytes, multi-byte runes to the end.
	a1.RequestBody = `{"notes":"` + strings.Repeat("é", (envelope.MaxRecordedBody-12)/2) + `"}`
	a1.RequestBodyTruncated = true
	a2 := attempt(base, 0, 2, retry, 502)
	a2.RequestHeaders = headers("2") // a later attempt: headers, no body
	a3 := attempt(base, 0, 3, undelivered, 0)
	a3.Sent, a3.RequestHeaders = false, map[string]string{} // sent nothing: an empty map reads as nil
	if len(a1.RequestBody) != envelope.MaxRecordedBody {
		t.Fatalf("suite bug: body of %d bytes", len(a1.RequestBody))
	}
	old := Record("org-cap", "cap-old", fixedNow().Add(-2*time.Hour)) // no request recorded
	small := Record("org-cap", "cap-small", fixedNow().Add(-time.Hour))
	small.RequestHeaders, small.RequestBody = map[string]string{"Content-Length": "2"}, "{}"

	write(t, st, a1, old)
	write(t, st, a2, a3, small)
	want := roundOf(a1, a2, a3)
	if want.AttemptList[2].RequestHeaders != nil || want.AttemptList[0].RequestBody == "" {
		t.Fatalf("suite bug: model attempts %+v", want.AttemptList)
	}
	checkTimeline(t, st, timelineOf(want))
	checkTimeline(t, st, timelineOf(roundOf(old)))
	checkTimeline(t, st, timelineOf(roundOf(small)))
}
