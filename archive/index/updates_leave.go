package index

import "context"

// LeaveRollouts takes a box out of every rollout not ended (filed or
// active) where it is not done yet (waiting or in flight): a revoked
// box neither receives the update nor fails a wave at its deadline. The
// rows it is done in stay, as the rollout's history. It returns the
// rollouts it left.
func (x *Index) LeaveRollouts(ctx context.Context, name string, open []string) ([]int64, error) {
	if len(open) == 0 {
		return nil, nil
	}
	args := []any{name}
	for _, s := range open {
		args = append(args, s)
	}
	rows, err := x.db.QueryContext(ctx, `SELECT rollout FROM rollout_boxes WHERE appliance = ? AND state IN (?`+repeat(", ?", len(open)-1)+`)
AND rollout IN (SELECT id FROM rollouts WHERE state IN ('filed', 'active')) ORDER BY rollout`, args...)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, err := x.db.ExecContext(ctx, `DELETE FROM rollout_boxes WHERE rollout = ? AND appliance = ? AND state IN (?`+repeat(", ?", len(open)-1)+`)`, append([]any{id}, args...)...); err != nil {
			return ids, err
		}
	}
	return ids, nil
}
