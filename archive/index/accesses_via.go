package index

// Migration 8: accesses.via names the streaming link a stream went
// through (its minter is accesses.name: a link's streams count against
// the person who minted it).
func init() {
	register(8, "accesses via link", `ALTER TABLE accesses ADD COLUMN via TEXT NOT NULL DEFAULT ''`)
}
