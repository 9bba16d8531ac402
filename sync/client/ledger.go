package client

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spanvault/spanvault/record/ledger"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
)

// maxLedgersPerPass bounds the days one pass seals and sends (a box back
// after a month offline catches up over a few passes).
const maxLedgersPerPass = 31

// ledgerNext is the vault's sync meta key of the first day whose
// coverage ledger has not been acknowledged.
const ledgerNext = "ledger_next"

// sendLedgers seals and sends the coverage ledger (record/ledger) of
// every finished day (UTC) not sent yet, oldest first, once every
// recording of that day is acknowledged, and checks each ledger's
// inclusion proof in the archive's anchor log. A box's first pass starts
// with the day of its oldest recording still waiting, or today. pending
// is what waits to be sent (PendingSync), listed by the caller.
func (c *Client) sendLedgers(ctx context.Context, pending []*vault.Entry) error {
	today := c.cfg.Now().UTC().Format(time.DateOnly)
	oldestPending := ""
	for _, e := range pending {
		if d := e.Start.UTC().Format(time.DateOnly); oldestPending == "" || d < oldestPending {
			oldestPending = d
		}
	}
	b, err := c.v.SyncMeta(ledgerNext)
	if err != nil {
		return err
	}
	next := string(b)
	if next == "" {
		next = today
		if oldestPending != "" && oldestPending < next {
			next = oldestPending
		}
		if err := c.v.SetSyncMeta(ledgerNext, []byte(next)); err != nil {
			return err
		}
	}
	for range maxLedgersPerPass {
		if next >= today || (oldestPending != "" && oldestPending <= next) {
			return nil
		}
		s, err := c.v.SealLedger(c.cfg.Name, next)
		if err != nil {
			return err
		}
		var rep wire.LedgerReply
		if err := c.post(ctx, wire.PathLedger, s, &rep); err != nil {
			return fmt.Errorf("sync: coverage ledger of %s: %w", next, err)
		}
		if c.vkey != "" {
			tree, err := wire.VerifyCheckpoint(c.vkey, rep.Checkpoint.Note)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrAnchor, err)
			}
			leaf := tlog.RecordHash(ledger.AnchorText(c.cfg.Name, next, ledger.Hash(s.Ledger)))
			if err := tlog.CheckRecord(toProof(rep.Inclusion), tree.N, tree.Hash, rep.Index, leaf); err != nil {
				return fmt.Errorf("%w: coverage ledger of %s not included: %v", ErrAnchor, next, err)
			}
		}
		d, _ := time.Parse(time.DateOnly, next)
		done := next
		next = d.Add(24 * time.Hour).Format(time.DateOnly)
		if err := c.v.SetSyncMeta(ledgerNext, []byte(next)); err != nil {
			return err
		}
		// The archive holds it now (and the audit chain says it was
		// sealed, with its hash): the box's copy goes.
		if err := c.v.SetSyncMeta(vault.LedgerMetaKey(done), nil); err != nil {
			return err
		}
	}
	return nil
}
