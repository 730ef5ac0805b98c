package secrets

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves goroutines behind, such as a
// Cache watch that Stop did not end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
