package console

import (
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

func TestLocalPath(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"/", "/"},
		{"/deliveries?state=undelivered&org=org_a", "/deliveries?state=undelivered&org=org_a"},
		{"/events/0190c0de-0000-7000-8000-000000000000", "/events/0190c0de-0000-7000-8000-000000000000"},
		{"", "/"},
		{"https://evil.example/", "/"},
		{"//evil.example", "/"},
		{"///evil.example", "/"},
		{"/\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{"/" + strings.Repeat("a", 3000), "/"},
	} {
		if got := localPath(tc.next); got != tc.want {
			t.Errorf("localPath(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}

func TestPrettyJSON(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"object", `{"a":1,"b":[true]}`, "{\n  \"a\": 1,\n  \"b\": [\n    true\n  ]\n}"},
		{"not JSON", `{"a":`, `{"a":`},
		{"text", "plain <b>text</b>", "plain <b>text</b>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := prettyJSON(tc.in); got != tc.want {
				t.Fatalf("prettyJSON(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRoundViewBodyAndHeaders(t *testing.T) {
	small := `{"event_id":"e1"}`
	large := `{"rows":"` + strings.Repeat("x", largeBody) + `"}`
	for _, tc := range []struct {
		name      string
		body      string
		truncated bool
		wantLarge bool
	}{
		{"small JSON", small, false, false},
		{"large JSON", large, false, true},
		{"truncated", large[:100], true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := logstore.Round{AttemptList: []logstore.Attempt{
				{Attempt: 1, RequestBody: tc.body, RequestBodyTruncated: tc.truncated,
					RequestHeaders: map[string]string{"Sixtyfour-Signature": "t=1,v1=abcd…", "Content-Type": "application/json"}},
				{Attempt: 2},
			}}
			rv := newRoundView(rd)
			if len(rv.AttemptRows) != 2 || rv.AttemptRows[1].Number != 2 {
				t.Fatalf("attempt rows %+v, want attempts 1 and 2", rv.AttemptRows)
			}
			if !rv.HasBody || rv.Large != tc.wantLarge || rv.BodyTruncated != tc.truncated {
				t.Fatalf("HasBody %v, Large %v, Truncated %v; want true, %v, %v", rv.HasBody, rv.Large, rv.BodyTruncated, tc.wantLarge, tc.truncated)
			}
			if h := rv.AttemptRows[0].Headers; len(h) != 2 || h[0].Name != "Content-Type" || h[1].Name != "Sixtyfour-Signature" {
				t.Fatalf("headers %v, want both in name order", h)
			}
		})
	}
}

func TestDrawChart(t *testing.T) {
	first := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	hours := make([]stateCounts, chartHours)
	hours[0] = stateCounts{Delivered: 10, Retrying: 5, Undelivered: 5}
	hours[23] = stateCounts{Delivered: 1}
	ch := drawChart(first, hours)
	if ch.Max != 20 || len(ch.Bars) != chartHours || len(ch.Bars[0].Segments) != 3 || len(ch.Bars[1].Segments) != 0 {
		t.Fatalf("chart %+v", ch)
	}
	seg := ch.Bars[0].Segments
	if total := seg[0].H + seg[1].H + seg[2].H; total != chartHeight-chartBottom-chartTop {
		t.Fatalf("the tallest bar is %d high, want the plot's %d", total, chartHeight-chartBottom-chartTop)
	}
	if seg[2].Y < chartTop || seg[0].Y+seg[0].H != chartHeight-chartBottom {
		t.Fatalf("segments %+v do not stand on the axis", seg)
	}
	if !strings.HasPrefix(seg[0].Title, "10:00–11:00 UTC: 10 delivered") {
		t.Fatalf("title %q", seg[0].Title)
	}
	if h := ch.Bars[23].Segments[0].H; h < 1 {
		t.Fatalf("a small count has height %d", h)
	}
}
