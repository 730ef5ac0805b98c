package retry

import (
	"errors"
	"testing"
)

func FuzzParseSchedule(f *testing.F) {
	for _, seed := range []string{
		"1s,2s,4s,8s,16s", "", " ", ",", "1s,,2s", "1s, 2s , 4s", "-1s", "0", "5",
		"1.5s,500ms,1h2m3s", "48h", "9999999999h", "1e9s", "1s 2s", "\x00", "µs", "1µs",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSchedule(text)
		if err != nil {
			if !errors.Is(err, ErrInvalidSchedule) {
				t.Fatalf("ParseSchedule(%q) error %v does not wrap ErrInvalidSchedule", text, err)
			}
			if s != nil {
				t.Fatalf("ParseSchedule(%q) = %v with error %v, want nil schedule", text, s, err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("ParseSchedule(%q) = %v, whose Validate() = %v, want nil", text, s, err)
		}
		again, err := ParseSchedule(s.String())
		if err != nil || again.String() != s.String() {
			t.Fatalf("ParseSchedule(%q) = %v, %v; want the round trip of %v", s.String(), again, err, s)
		}
		p := Policy{Schedule: s}
		for attempt := 0; attempt <= s.MaxAttempts()+1; attempt++ {
			d := p.Decide(attempt, Outcome{Kind: KindTimeout})
			if d.Action == ActionRetry && d.Delay <= 0 {
				t.Fatalf("Decide(%d) with schedule %v = %+v, want Delay > 0", attempt, s, d)
			}
		}
	})
}
