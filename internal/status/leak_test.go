package status

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves goroutines behind, such as a
// NATS connection or an ordered consumer that was not closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
