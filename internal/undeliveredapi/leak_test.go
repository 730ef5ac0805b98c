package undeliveredapi_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves goroutines behind, such as a
// NATS connection, an ordered consumer or an HTTP connection not closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
