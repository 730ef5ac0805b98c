package retry

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxScheduleLen is the largest number of delays a [Schedule] may hold, so
// at most MaxScheduleLen+1 attempts are made for one event.
const MaxScheduleLen = 100

// MaxDelay is the longest single wait a [Schedule] may hold. A message waiting
// out a JetStream NakWithDelay keeps its MaxAckPending slot the whole time,
// and a longer value is far more often a unit typo ("1000h") than a wish.
const MaxDelay = 24 * time.Hour

// ErrInvalidSchedule is wrapped by every error from [Schedule.Validate] and
// [ParseSchedule]; test for it with errors.Is.
var ErrInvalidSchedule = errors.New("invalid retry schedule")

// Schedule is the list of waits between attempts: Schedule[i] is the wait
// after failed attempt i+1, so a Schedule of n delays allows n+1 attempts.
// A valid Schedule (see [Schedule.Validate]) holds 1 to [MaxScheduleLen]
// delays, each greater than 0 and at most [MaxDelay].
type Schedule []time.Duration

// Default returns the default schedule, a fresh copy the caller may modify:
// 1s, 2s, 4s, 8s, 16s, that is 6 attempts (1 first attempt + 5 retries).
func Default() Schedule {
	return Schedule{
		1 * time.Second,
		2 * time.Second,
		4 * time.Second,
		8 * time.Second,
		16 * time.Second,
	}
}

// MaxAttempts returns the total number of attempts the schedule allows,
// len(s)+1: the first attempt plus one retry per delay. It is 6 for
// [Default] and 1 for an empty schedule.
func (s Schedule) MaxAttempts() int {
	return len(s) + 1
}

// Delay returns the wait after failed attempt number attempt (1-based), and
// false when the schedule has no retry left after that attempt (attempt >=
// MaxAttempts) or attempt < 1. Jitter is not applied here; see [Policy.Decide].
func (s Schedule) Delay(attempt int) (time.Duration, bool) {
	if attempt < 1 || attempt > len(s) {
		return 0, false
	}
	return s[attempt-1], true
}

// String formats the schedule as comma-separated Go durations, for example
// "1s,2s,4s", the form [ParseSchedule] reads back. An empty schedule is "".
func (s Schedule) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

// Validate reports whether s is usable. It returns an error wrapping
// [ErrInvalidSchedule] when s is empty (a delivery always gets at least one
// retry; an empty schedule is almost always an unset setting), holds more
// than [MaxScheduleLen] delays, or holds a delay that is not greater than 0
// or is greater than [MaxDelay]. The error names the first bad index.
func (s Schedule) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("%w: no delays, want at least 1", ErrInvalidSchedule)
	}
	if len(s) > MaxScheduleLen {
		return fmt.Errorf("%w: %d delays, want at most %d", ErrInvalidSchedule, len(s), MaxScheduleLen)
	}
	for i, d := range s {
		if err := checkDelay(i, d); err != nil {
			return err
		}
	}
	return nil
}

// checkDelay validates the delay at index i of a schedule.
func checkDelay(i int, d time.Duration) error {
	switch {
	case d <= 0:
		return fmt.Errorf("%w: Schedule[%d] = %s, want > 0", ErrInvalidSchedule, i, d)
	case d > MaxDelay:
		return fmt.Errorf("%w: Schedule[%d] = %s, want at most %s", ErrInvalidSchedule, i, d, MaxDelay)
	}
	return nil
}

// ParseSchedule reads a schedule from configuration text: Go durations (as
// accepted by time.ParseDuration, for example "500ms", "1s", "1m30s")
// separated by commas, with optional spaces around each, for example
// "1s, 2s, 4s". The result is valid ([Schedule.Validate] returns nil).
//
// It returns an error wrapping [ErrInvalidSchedule] when the text is blank,
// an element is empty ("1s,,2s", a trailing comma) or not a duration ("5"
// has no unit), or the parsed schedule is invalid. Errors name the index and
// quote the bad element.
func ParseSchedule(text string) (Schedule, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("%w: empty text, want comma-separated Go durations such as %q",
			ErrInvalidSchedule, Default().String())
	}
	// Count first, so that huge input is refused before it is split.
	if n := strings.Count(text, ",") + 1; n > MaxScheduleLen {
		return nil, fmt.Errorf("%w: %d delays, want at most %d", ErrInvalidSchedule, n, MaxScheduleLen)
	}
	parts := strings.Split(text, ",")
	s := make(Schedule, len(parts))
	for i, part := range parts {
		d, err := parseDelay(i, strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		s[i] = d
	}
	return s, nil
}

// parseDelay parses and checks the element at index i of a schedule text.
func parseDelay(i int, elem string) (time.Duration, error) {
	if elem == "" {
		return 0, fmt.Errorf("%w: Schedule[%d] is empty, want a Go duration such as \"2s\"", ErrInvalidSchedule, i)
	}
	d, err := time.ParseDuration(elem)
	if err != nil {
		return 0, fmt.Errorf("%w: Schedule[%d] %q is not a Go duration such as \"2s\": %w",
			ErrInvalidSchedule, i, elem, err)
	}
	return d, checkDelay(i, d)
}
