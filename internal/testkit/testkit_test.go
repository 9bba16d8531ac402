package testkit_test

import (
	"testing"

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
