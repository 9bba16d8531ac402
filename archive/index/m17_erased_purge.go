package index

// Migration 17: an index whose erasures left the erased rows' sealed
// metadata, sealed subject and blind search terms (applyTombstone keeps
// none since purgeErased) drops them now, so that neither the index nor
// its later backups hold them. Tombstones keep theirs (the Art. 15
// report's deletion); rows only removed from their box are live and keep
// theirs.
func init() {
	register(17, "erased rows hold no personal data", `
UPDATE records SET sealed = NULL, subject = NULL WHERE kind <> 'tombstone' AND deleted_at <> '' AND (sealed IS NOT NULL OR subject IS NOT NULL);
DELETE FROM search_terms WHERE kind <> 'tombstone' AND EXISTS (
	SELECT 1 FROM records r WHERE r.appliance = search_terms.appliance AND r.id = search_terms.id AND r.kind = search_terms.kind AND r.deleted_at <> '');
DELETE FROM search_queue WHERE kind <> 'tombstone' AND EXISTS (
	SELECT 1 FROM records r WHERE r.appliance = search_queue.appliance AND r.id = search_queue.id AND r.kind = search_queue.kind AND r.deleted_at <> '')
`)
}
