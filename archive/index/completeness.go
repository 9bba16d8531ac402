package index

// Completeness of recordings (issue 25): the search's clear facts carry
// how many packets of a recording the box missed although they crossed
// the mirrored wire (record.Completeness.LostCapture), so that search can
// find what was "recorded incomplete by us". -1: not known (the entry
// predates completeness records, or the fact has not been derived yet).
func init() {
	register(15, "completeness: packets lost by the capture", `
ALTER TABLE search_facts ADD COLUMN lost_capture INTEGER NOT NULL DEFAULT -1;
CREATE INDEX IF NOT EXISTS search_facts_lost_capture ON search_facts (lost_capture) WHERE lost_capture > 0`)
}
