package retry

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	want := Schedule{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
	got := Default()
	if got.String() != want.String() {
		t.Fatalf("Default() = %v, want %v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v, want nil", err)
	}
	got[0] = time.Hour
	if again := Default(); again[0] != time.Second {
		t.Fatalf("Default()[0] after mutating an earlier copy = %v, want 1s", again[0])
	}
}

func TestScheduleMaxAttempts(t *testing.T) {
	tests := []struct {
		name string
		s    Schedule
		want int
	}{
		{"nil", nil, 1},
		{"empty", Schedule{}, 1},
		{"one delay", Schedule{time.Second}, 2},
		{"default", Default(), 6},
		{"max length", make(Schedule, MaxScheduleLen), MaxScheduleLen + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.MaxAttempts(); got != tt.want {
				t.Errorf("MaxAttempts() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestScheduleDelay(t *testing.T) {
	s := Default()
	tests := []struct {
		attempt int
		want    time.Duration
		wantOK  bool
	}{
		{-1, 0, false},
		{0, 0, false},
		{1, time.Second, true},
		{2, 2 * time.Second, true},
		{5, 16 * time.Second, true},
		{6, 0, false},
		{7, 0, false},
	}
	for _, tt := range tests {
		got, ok := s.Delay(tt.attempt)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Delay(%d) = %v, %v; want %v, %v", tt.attempt, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	tests := []struct {
		name    string
		s       Schedule
		wantErr string // substring; "" means valid
	}{
		{"default", Default(), ""},
		{"one nanosecond", Schedule{time.Nanosecond}, ""},
		{"max delay", Schedule{MaxDelay}, ""},
		{"max length", filled(MaxScheduleLen, time.Second), ""},
		{"nil", nil, "no delays"},
		{"empty", Schedule{}, "no delays"},
		{"too long", filled(MaxScheduleLen+1, time.Second), "101 delays, want at most 100"},
		{"zero first", Schedule{0, time.Second}, "Schedule[0] = 0s, want > 0"},
		{"negative third", Schedule{time.Second, time.Second, -time.Second}, "Schedule[2] = -1s, want > 0"},
		{"over max", Schedule{time.Second, 25 * time.Hour}, "Schedule[1] = 25h0m0s, want at most 24h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.s.Validate(), tt.wantErr, ErrInvalidSchedule)
		})
	}
}

func TestScheduleString(t *testing.T) {
	tests := []struct {
		name string
		s    Schedule
		want string
	}{
		{"nil", nil, ""},
		{"default", Default(), "1s,2s,4s,8s,16s"},
		{"mixed", Schedule{500 * time.Millisecond, 90 * time.Second}, "500ms,1m30s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    Schedule
		wantErr string // substring; "" means success
	}{
		{"default", "1s,2s,4s,8s,16s", Default(), ""},
		{"single", "30s", Schedule{30 * time.Second}, ""},
		{"spaces", " 1s , 2s,\t4s ", Schedule{time.Second, 2 * time.Second, 4 * time.Second}, ""},
		{"mixed units", "500ms,1m30s,1.5s", Schedule{500 * time.Millisecond, 90 * time.Second, 1500 * time.Millisecond}, ""},
		{"max length", strings.Repeat("1s,", MaxScheduleLen-1) + "1s", filled(MaxScheduleLen, time.Second), ""},
		{"empty", "", nil, "empty text"},
		{"blank", "  \t ", nil, "empty text"},
		{"empty element", "1s,,4s", nil, "Schedule[1] is empty"},
		{"trailing comma", "1s,2s,", nil, "Schedule[2] is empty"},
		{"negative", "1s,-2s", nil, "Schedule[1] = -2s, want > 0"},
		{"zero", "0s", nil, "Schedule[0] = 0s, want > 0"},
		{"bare zero", "0", nil, "Schedule[0] = 0s, want > 0"},
		{"no unit", "1s,5", nil, `Schedule[1] "5" is not a Go duration`},
		{"garbage", "1s,2s,soon", nil, `Schedule[2] "soon" is not a Go duration`},
		{"space separated", "1s 2s", nil, `Schedule[0] "1s 2s" is not a Go duration`},
		{"semicolons", "1s;2s", nil, `Schedule[0] "1s;2s" is not a Go duration`},
		{"over max", "1s,48h", nil, "Schedule[1] = 48h0m0s, want at most 24h0m0s"},
		{"overflow", "1s,9999999999h", nil, `Schedule[1] "9999999999h" is not a Go duration`},
		{"too many", strings.Repeat("1s,", MaxScheduleLen) + "1s", nil, "101 delays, want at most 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSchedule(tt.text)
			checkErr(t, err, tt.wantErr, ErrInvalidSchedule)
			if got.String() != tt.want.String() {
				t.Errorf("ParseSchedule(%q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}

// filled returns a schedule of n copies of d.
func filled(n int, d time.Duration) Schedule {
	s := make(Schedule, n)
	for i := range s {
		s[i] = d
	}
	return s
}

// checkErr asserts that err is nil when wantErr is "", and otherwise that it
// contains wantErr and wraps sentinel.
func checkErr(t *testing.T, err error, wantErr string, sentinel error) {
	t.Helper()
	if wantErr == "" {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("err = nil, want an error containing %q", wantErr)
	}
	if !strings.Contains(err.Error(), wantErr) {
		t.Errorf("err = %q, want it to contain %q", err, wantErr)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("errors.Is(%v, %v) = false, want true", err, sentinel)
	}
}
