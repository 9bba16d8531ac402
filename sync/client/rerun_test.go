package client_test

import (
	"os"
	"testing"

	"github.com/spanvault/spanvault/internal/testkit"
)

// TestMain marks the sync acceptance tests that make test-go runs a
// second time with the archive on S3 (versitygw, Object Lock) and its
// index in PostgreSQL (SPANVAULT_RERUN=1 SPANVAULT_TEST_STORE=s3
// SPANVAULT_TEST_INDEX=postgres): in that run every other test is left
// out.
func TestMain(m *testing.M) {
	os.Exit(testkit.Main(m,
		TestBackupRestoreKeepsErasure,
		TestBoxRetentionKeepsArchiveCopy,
		TestBoxErasureErasesArchiveCopy,
		TestHeldErasureRefusedAtArchive,
		TestTombstoneKindsAtIngest,
		TestIngestRecordCannotLowerRetention,
		TestThousandRecordingsArriveAndRetentionWaitsForGrace,
		TestResumeAfterCutsAndRestarts,
		TestCrashBetweenAckAndAcknowledge,
		TestBoxKilledBetweenAckAndAcknowledge,
		TestArchiveKilledMidUpload,
		TestFailoverBetweenFrontEnds,
		TestCommands,
	))
}
