package retry_test

import (
	"errors"
	"fmt"

	"github.com/sixtyfour-oss/webhooks/pkg/retry"
)

// The caller classifies each attempt and maps the decision to JetStream in
// one switch: Ack, NakWithDelay (never a plain Nak), or publish to the
// undelivered stream and then Term.
func ExamplePolicy_Decide() {
	p := retry.NewPolicy() // 1s, 2s, 4s, 8s, 16s: 6 attempts, no jitter
	outcomes := []retry.Outcome{
		{Kind: retry.KindResponse, StatusCode: 503},
		{Kind: retry.KindConnection, Err: errors.New("connection refused")},
		{Kind: retry.KindResponse, StatusCode: 204},
	}
	for i, o := range outcomes {
		d := p.Decide(i+1, o)
		switch d.Action {
		case retry.ActionDeliver:
			fmt.Printf("attempt %d: %s -> Ack\n", i+1, d.Action)
		case retry.ActionRetry:
			fmt.Printf("attempt %d: %s -> NakWithDelay(%s)\n", i+1, d.Reason, d.Delay)
		case retry.ActionDeadLetter:
			fmt.Printf("attempt %d: %s -> publish undelivered, then Term\n", i+1, d.Reason)
		}
	}
	fmt.Println(p.Decide(6, retry.Outcome{Kind: retry.KindResponse, StatusCode: 500}).Reason)
	// Output:
	// attempt 1: HTTP 503 -> NakWithDelay(1s)
	// attempt 2: connection error: connection refused -> NakWithDelay(2s)
	// attempt 3: delivered -> Ack
	// attempts exhausted after 6 attempts: HTTP 500
}

func ExampleParseSchedule() {
	s, err := retry.ParseSchedule("1s, 5s, 30s")
	fmt.Println(s, s.MaxAttempts(), err)

	_, err = retry.ParseSchedule("1s,5,30s")
	fmt.Println(err)
	// Output:
	// 1s,5s,30s 4 <nil>
	// invalid retry schedule: Schedule[1] "5" is not a Go duration such as "2s": time: missing unit in duration "5"
}
