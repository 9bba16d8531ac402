package testkit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/spanvault/spanvault/internal/testkit"
)

func TestAlpha(t *testing.T) {}
func TestBeta(t *testing.T)  {}

func TestPattern(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tests []func(*testing.T)
		want  string
		err   bool
	}{
		{"one", []func(*testing.T){TestAlpha}, "^(TestAlpha)$", false},
		{"two", []func(*testing.T){TestAlpha, TestBeta}, "^(TestAlpha|TestBeta)$", false},
		{"none", nil, "", true},
		{"closure", []func(*testing.T){func(*testing.T) {}}, "", true},
		{"nil", []func(*testing.T){nil}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := testkit.Pattern(tc.tests...)
			if (err != nil) != tc.err {
				t.Fatalf("Pattern: err = %v, want error %v", err, tc.err)
			}
			if got != tc.want {
				t.Fatalf("Pattern = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNeedToolSkipsWithoutTheTool(t *testing.T) {
	t.Setenv(testkit.RequireToolsEnv, "")
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		testkit.NeedTool(t, "spanvault-no-such-tool")
	})
	if !skipped {
		t.Fatal("a missing tool did not skip the test")
	}
}

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	c := testkit.NewClock(t0)
	for _, tc := range []struct {
		step   func()
		want   time.Time
		synced bool
	}{
		{func() {}, t0, true},
		{func() { c.Add(time.Hour) }, t0.Add(time.Hour), true},
		{func() { c.Set(t0.Add(-time.Minute)) }, t0.Add(-time.Minute), true},
		{func() { c.SetSynced(false) }, t0.Add(-time.Minute), false},
		{func() { c.SetSynced(true); c.Add(time.Second) }, t0.Add(-time.Minute + time.Second), true},
	} {
		tc.step()
		if !c.Now().Equal(tc.want) || c.Synced() != tc.synced {
			t.Errorf("clock %v synced %v, want %v %v", c.Now(), c.Synced(), tc.want, tc.synced)
		}
	}
	var b testkit.LockedBuffer
	done := make(chan struct{})
	go func() { _, _ = fmt.Fprint(&b, "from another goroutine"); close(done) }()
	<-done
	if b.String() != "from another goroutine" {
		t.Errorf("buffer %q", b.String())
	}
}
