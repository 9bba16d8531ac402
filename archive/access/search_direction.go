package access

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/spanvault/spanvault/record"
)

// replaceDirections re-queues for the blind index the calls no box could
// place (direction "external" or none) when access.extensions differ
// from those the index was built with: IndexPending then places them
// with the new extensions (Service.direction). Once per configuration,
// not per start.
func (s *Service) replaceDirections(ctx context.Context) error {
	want := strings.Join(s.cfg.Extensions, ",")
	var have string
	err := s.db().QueryRowContext(ctx, `SELECT value FROM search_settings WHERE name = 'extensions'`).Scan(&have)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("search settings: %w", err)
	}
	if have == want {
		return nil
	}
	tx, err := s.db().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range []string{
		`INSERT INTO search_queue (appliance, id, kind) SELECT appliance, id, kind FROM search_facts WHERE direction IN ('', ?) ON CONFLICT DO NOTHING`,
		`DELETE FROM search_facts WHERE direction IN ('', ?)`,
	} {
		if _, err := tx.ExecContext(ctx, q, record.DirExternal); err != nil {
			return fmt.Errorf("re-placing directions: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO search_settings (name, value) VALUES ('extensions', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, want); err != nil {
		return fmt.Errorf("search settings: %w", err)
	}
	return tx.Commit()
}
