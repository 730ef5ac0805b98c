package deliver

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/sign"
)

// shownMACChars is how many characters of each signature a recorded
// signature header keeps: enough to tell two signatures apart in the
// console, far too few to be of use to anyone who reads the log.
const shownMACChars = 8

// unrecordedHeaders are never put in an attempt record: credentials of the
// receiver's (a block may set Authorization) or of a proxy.
var unrecordedHeaders = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
}

// maskedValue stands for the value of a header the pipeline did not set
// itself: a block's custom header may carry the receiver's credential
// (X-Api-Key and the like), which the log and the console must not show.
const maskedValue = "•••• (custom header, not recorded)"

// ownHeader reports whether the pipeline sets the header itself (its
// value is worth recording and holds no credential of the receiver's).
func ownHeader(name string) bool {
	switch name {
	case "Content-Type", "User-Agent", "Content-Length":
		return true
	}
	return strings.HasPrefix(name, "Sixtyfour-")
}

// recordedHeaders returns the header fields of a request as the attempt
// record keeps them (envelope.AttemptRecord.RequestHeaders): canonical
// names, repeated values joined with ", ", Content-Length (the transport
// sends it from the body's length) added, the signature shortened, the
// receiver's credentials (Authorization, Proxy-Authorization) left out and
// the value of every other header that a block set replaced by
// maskedValue. It returns nil for a nil h.
//
// Besides the map, it allocates one string, which holds both values made
// here: the shortened signature and the body's length in decimal.
func recordedHeaders(h http.Header, bodyLen int) map[string]string {
	if h == nil {
		return nil
	}
	out := make(map[string]string, len(h)+1)
	signature, signed := "", false
	for name, values := range h {
		name = http.CanonicalHeaderKey(name)
		if unrecordedHeaders[name] || len(values) == 0 {
			continue
		}
		v := values[0]
		if len(values) > 1 {
			v = strings.Join(values, ", ")
		}
		switch {
		case name == sign.HeaderName:
			signature, signed = v, true // shortened below
			continue
		case !ownHeader(name):
			v = maskedValue
		}
		out[name] = v
	}
	var b strings.Builder
	b.Grow(len(signature) + len("-9223372036854775808"))
	writeShortSignature(&b, signature)
	n := b.Len()
	var digits [20]byte
	b.Write(strconv.AppendInt(digits[:0], int64(bodyLen), 10))
	both := b.String()
	if signed {
		out[sign.HeaderName] = both[:n]
	}
	out["Content-Length"] = both[n:]
	return out
}

// shortenSignature returns a signature header value ("t=<unix>,v1=<hex>"
// with one v1 per secret) with every segment but t cut to its first
// shownMACChars characters followed by "…", so that no full HMAC is kept.
func shortenSignature(v string) string {
	var b strings.Builder
	b.Grow(len(v))
	writeShortSignature(&b, v)
	return b.String()
}

// writeShortSignature writes v to b as shortenSignature returns it.
func writeShortSignature(b *strings.Builder, v string) {
	sep := ""
	for seg := range strings.SplitSeq(v, ",") {
		b.WriteString(sep)
		sep = ","
		key, value, ok := strings.Cut(seg, "=")
		if !ok || key == "t" || len(value) <= shownMACChars {
			b.WriteString(seg)
			continue
		}
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(value[:shownMACChars])
		b.WriteString("…")
	}
}

// recordedBody returns body as the attempt record keeps it
// (envelope.AttemptRecord.RequestBody): at most envelope.MaxRecordedBody
// bytes, cut on a rune boundary, as valid UTF-8; cut reports that bytes
// were left out. The body is copied once (into the string), and a second
// time only in the case that never happens for a body this package renders
// (invalid UTF-8, which is replaced).
func recordedBody(body []byte) (s string, cut bool) {
	if len(body) > envelope.MaxRecordedBody {
		body, cut = body[:completeRunes(body[:envelope.MaxRecordedBody])], true
	}
	s = string(body)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s, cut
}

// completeRunes returns the length of b without the incomplete rune that
// its end may hold (b is a prefix of a longer text).
func completeRunes(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b) // no rune starts there: invalid UTF-8, replaced later
}
