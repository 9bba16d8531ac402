package access

import (
	"html/template"
	"net/http"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// The pages speak English and German. A template's text is English and is
// the key into the catalog: {{T "Search"}} prints "Suche" for a German
// reader. Each area of the workspace keeps its German strings in a file of
// its own (i18n_de_*.go) that adds them to the catalog in an init.
//
// The reader's language is the "lang" cookie when it names a supported
// language, otherwise the best match of the browser's Accept-Language,
// otherwise English.

var languages = []language.Tag{language.English, language.German}

var languageMatcher = language.NewMatcher(languages)

// pageSets holds one parsed template set per language: clones of pages
// whose T translates through that language's printer.
var pageSets = func() map[language.Tag]*template.Template {
	m := make(map[language.Tag]*template.Template, len(languages))
	for _, tag := range languages {
		p := message.NewPrinter(tag)
		t := template.Must(pages.Clone())
		t.Funcs(template.FuncMap{"T": func(key string, args ...any) string { return p.Sprintf(key, args...) }})
		m[tag] = t
	}
	return m
}()

// germanText is the German catalog as a plain map, for Go-side strings
// that are not format strings (translate).
var germanText = map[string]string{}

// de adds German translations to the catalog, keyed by the English text.
func de(kv map[string]string) {
	for k, v := range kv {
		germanText[k] = v
		if err := message.SetString(language.German, k, v); err != nil {
			panic("i18n: " + err.Error()) // only on a malformed literal in this package
		}
	}
}

// readerLanguage picks the language a request is answered in.
func readerLanguage(r *http.Request) language.Tag {
	if r == nil {
		return language.English
	}
	if c, err := r.Cookie("lang"); err == nil {
		if tag, err := language.Parse(c.Value); err == nil {
			for _, l := range languages {
				if b, _ := tag.Base(); func() bool { lb, _ := l.Base(); return lb == b }() {
					return l
				}
			}
		}
	}
	tag, _ := language.MatchStrings(languageMatcher, r.Header.Get("Accept-Language"))
	b, _ := tag.Base()
	for _, l := range languages {
		if lb, _ := l.Base(); lb == b {
			return l
		}
	}
	return language.English
}

// translate renders a Go-side string (a title, an error for the reader)
// in the reader's language; a string the catalog lacks stays English.
// It is not a format string: a '%' in an error's text prints as itself.
func translate(tag language.Tag, text string) string {
	if tag == language.German {
		if v, ok := germanText[text]; ok {
			return v
		}
	}
	return text
}
