package vault_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/spanvault/spanvault/vault"
)

// BenchmarkSubjectTagBruteForce: what a thief with the box's disk pays per
// candidate number against a subject-hold tag (one argon2id evaluation),
// and so for 10^9 candidates; one evaluation is also the per-call cost of
// checking a call's external number against every subject hold.
func BenchmarkSubjectTagBruteForce(b *testing.B) {
	salt := []byte("0123456789abcdef")
	start := time.Now()
	for i := 0; i < b.N; i++ {
		vault.SubjectTag(salt, fmt.Sprintf("+49%09d", i))
	}
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(per.Microseconds())/1000, "ms/candidate")
	b.ReportMetric(float64(per)*1e9/float64(365*24*time.Hour), "CPU-years/1e9")
	b.ReportMetric(float64(per.Microseconds())/1000, "ms/call")
}
