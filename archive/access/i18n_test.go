package access

import (
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/text/language"
)

func TestReaderLanguage(t *testing.T) {
	for _, tc := range []struct {
		cookie, accept string
		want           language.Tag
	}{
		{"", "", language.English},
		{"", "de-DE,de;q=0.9,en;q=0.8", language.German},
		{"", "en-GB,en;q=0.9", language.English},
		{"", "fr-FR", language.English},
		{"en", "de-DE", language.English},
		{"de", "en-US", language.German},
		{"xx-garbage", "de-AT", language.German},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.cookie != "" {
			r.Header.Set("Cookie", "lang="+tc.cookie)
		}
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if got := readerLanguage(r); got != tc.want {
			t.Errorf("cookie %q accept %q: %v, want %v", tc.cookie, tc.accept, got, tc.want)
		}
	}
}

func TestPagesInGerman(t *testing.T) {
	var en, de strings.Builder
	pd := pageData{Title: "Search recordings", User: &User{Name: "x", Role: "compliance"}}
	if err := pageSets[language.English].ExecuteTemplate(&en, "top", pd); err != nil {
		t.Fatal(err)
	}
	if err := pageSets[language.German].ExecuteTemplate(&de, "top", pd); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(en.String(), ">Search</a>") || !strings.Contains(de.String(), ">Suche</a>") {
		t.Errorf("menu not translated:\nen: %s\nde: %s", en.String(), de.String())
	}
	if translate(language.German, "Sign in") != "Anmelden" || translate(language.German, "100% unknown") != "100% unknown" {
		t.Error("translate: wrong")
	}
}
