package access_test

import (
	"os"
	"testing"

	"github.com/spanvault/spanvault/internal/testkit"
)

// TestMain marks the access tests that make test-go runs a second time
// with the index in PostgreSQL (SPANVAULT_RERUN=1
// SPANVAULT_TEST_INDEX=postgres): in that run every other test is left
// out.
func TestMain(m *testing.M) {
	os.Exit(testkit.Main(m,
		TestRoleMatrix,
		TestRouteTable,
		TestSubjectAccessAcrossBoxes,
		TestSubjectErasure,
		TestFleet,
		TestNoCleartext,
	))
}
