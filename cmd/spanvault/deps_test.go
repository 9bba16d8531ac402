package main

import (
	"testing"

	"github.com/spanvault/spanvault/internal/deptest"
)

// The box's binary (built for the Pi) links nothing of the archive: no
// database driver, no S3 client, no archive package. What both ends need
// lives in leaf packages (sync/wire, record/..., internal/...).
func TestBoxDependencies(t *testing.T) {
	deptest.Check(t, "github.com/spanvault/spanvault/cmd/spanvault", "linux", "arm64", []string{
		"modernc.org/sqlite",
		"modernc.org/libc",
		"github.com/jackc/pgx",
		"github.com/minio/minio-go",
		"github.com/spanvault/spanvault/archive",
	})
}
