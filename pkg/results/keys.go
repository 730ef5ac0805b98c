package results

import (
	"strings"
)

// CSVKey is the results bucket key of the previous block's CSV for a run:
// "<org>/<run>/<block>.csv". A workflow engine puts the CSV there (Put); a
// block with include_csv_download_link points results_download_url at it.
// Each part is escaped (see escapePart), so no id can add a "/" or make a
// "." or ".." segment.
func CSVKey(orgID, runID, blockID string) string {
	return escapePart(orgID) + "/" + escapePart(runID) + "/" + escapePart(blockID) + ".csv"
}

// RowsKey is the results bucket key of a run's rows when they were too large
// to inline in the payload: "<org>/<run>/results.json" (a JSON array),
// escaped like CSVKey.
func RowsKey(orgID, runID string) string {
	return escapePart(orgID) + "/" + escapePart(runID) + "/results.json"
}

// escapePart makes one key segment out of an id. Bytes outside
// [A-Za-z0-9_.-] become %XX (so "/" and "%" cannot pass through), a
// leading "." becomes %2E (so no segment is "." or ".." or hidden), and the
// empty id becomes "~" (a literal "~" is always escaped, so the mapping
// stays one-to-one). Valid ids ([A-Za-z0-9_-] and inner dots) are unchanged.
func escapePart(s string) string {
	if s == "" {
		return "~"
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		plain := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || (c == '.' && i > 0)
		if plain {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
	return b.String()
}
