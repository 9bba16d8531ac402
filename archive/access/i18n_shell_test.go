package access

import (
	"regexp"
	"strings"
	"testing"
)

// TestEveryPageTextHasGerman: every {{T "..."}} of the shell's and the
// original pages' templates, and every page title, has a German
// translation with the same verbs.
func TestEveryPageTextHasGerman(t *testing.T) {
	key := regexp.MustCompile(`\{\{T "((?:[^"\\]|\\.)*)"`)
	verbs := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)
	var keys []string
	for _, f := range []string{"web/layout.html", "web/pages.html", "web/insider.html", "web/callrecord.html", "web/setup.html"} {
		b, err := webFiles.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, m[1])
		}
	}
	for _, v := range titles {
		if v != "" {
			keys = append(keys, v)
		}
	}
	keys = append(keys, "inbound", "outbound", "internal", "external", "newest", "oldest", "longest", "shortest", "branch", "retain_until")
	var missing []string
	for _, k := range keys {
		de, ok := germanText[k]
		if !ok {
			missing = append(missing, k)
			continue
		}
		if a, b := verbs.FindAllString(k, -1), verbs.FindAllString(de, -1); strings.Join(a, " ") != strings.Join(b, " ") {
			t.Errorf("%q: German %q has verbs %v, want %v", k, de, b, a)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d texts without German: %q", len(missing), missing)
	}
}
