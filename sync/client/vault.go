package client

import (
	"crypto/ed25519"
	"time"

	"github.com/spanvault/spanvault/record/auditchain"
	"github.com/spanvault/spanvault/record/ledger"
	"github.com/spanvault/spanvault/vault"
)

// Vault is what the sync client needs of the box's vault, and all it
// may touch: what waits to be sent, the acknowledgement that lets
// retention delete, the archive's commands, the audit chain it anchors,
// and a few bytes of its own state. *vault.Vault is the one
// implementation.
type Vault interface {
	// What waits, oldest first, and the sealed parts of a record.
	PendingSync(limit int) ([]*vault.Entry, error)
	PendingTombstones() ([]vault.Tombstone, error)
	Get(id string) (*vault.Entry, error)
	RecordingPath(id string) (string, error)
	Sealed(id string) (meta, subject []byte, err error)

	// The archive's acknowledgement (one transaction per batch).
	AcknowledgeMany(ids []string, at time.Time) error
	AcknowledgeTombstones(ids []string, at time.Time) error

	// The archive's commands, applied as the vault's own actions.
	Erase(id, reason, by string) error
	Hold(id, reason, by string) (string, error)
	ReleaseRecording(id, reason, by string) (int, error)

	// The audit chain: written to, and anchored at the archive.
	Audit(action, actor, recording, detail string) error
	AuditEntries(from uint64, n int) ([]auditchain.Entry, error)
	AuditHead() (auditchain.Head, error)
	PublicKey() ed25519.PublicKey

	// The coverage ledger of a finished day, signed and kept (the same
	// bytes each time it is asked for).
	SealLedger(appliance, day string) (*ledger.Signed, error)

	// The client's own state (the last verified tree, the last pass).
	SyncMeta(key string) ([]byte, error)
	SetSyncMeta(key string, val []byte) error
}

var _ Vault = (*vault.Vault)(nil)
