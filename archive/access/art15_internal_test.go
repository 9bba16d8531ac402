package access

import (
	"bytes"
	"compress/zlib"
	"io"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"

	"golang.org/x/text/language"
)

// PDFText is what a PDF says: its streams inflated (fpdf compresses
// them) and every string of text in them, read as UTF-16BE when it is
// (fonts with Unicode) or as bytes otherwise.
func PDFText(b []byte) string {
	var out strings.Builder
	re := regexp.MustCompile(`(?s)stream\r?\n(.*?)\r?\nendstream`)
	for _, m := range re.FindAllSubmatch(b, -1) {
		r, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			continue
		}
		x, _ := io.ReadAll(r)
		for _, s := range pdfStrings(x) {
			out.WriteString(s)
			out.WriteByte('\n')
		}
	}
	return out.String()
}

// pdfStrings reads the literal strings "(...)" of a content stream.
func pdfStrings(b []byte) []string {
	var out []string
	for i := 0; i < len(b); i++ {
		if b[i] != '(' {
			continue
		}
		var s []byte
		j := i + 1
		for ; j < len(b) && b[j] != ')'; j++ {
			c := b[j]
			if c == '\\' && j+1 < len(b) {
				j++
				switch e := b[j]; e {
				case 'n':
					c = '\n'
				case 'r':
					c = '\r'
				case 't':
					c = '\t'
				default:
					if e >= '0' && e <= '7' {
						n := 0
						for k := 0; k < 3 && j < len(b) && b[j] >= '0' && b[j] <= '7'; k++ {
							n = n*8 + int(b[j]-'0')
							j++
						}
						j--
						c = byte(n)
					} else {
						c = e
					}
				}
			}
			s = append(s, c)
		}
		i = j
		if len(s) >= 2 && len(s)%2 == 0 && s[0] == 0 {
			u := make([]uint16, len(s)/2)
			for k := range u {
				u[k] = uint16(s[2*k])<<8 | uint16(s[2*k+1])
			}
			out = append(out, string(utf16.Decode(u)))
		} else {
			out = append(out, string(s))
		}
	}
	return out
}

// TestArt15PDFNames: the PDF for the data subject prints names as they
// are, in any Latin, Greek or Cyrillic script, in English and German
// (old code: the core Helvetica in Windows-1252 turned "Şahin" and
// "Łukasz" into bytes of another character).
func TestArt15PDFNames(t *testing.T) {
	s := &Service{}
	for _, lang := range []language.Tag{language.English, language.German} {
		d := art15Doc{Generated: "2026-12-06 10:00:00 CET", By: "dora", Zone: "Europe/Berlin", Numbers: []string{"+49305550012"},
			Held: []art15Row{{Branch: "branch-1", ID: "rec1", Kind: "recording", Start: "2026-12-05 09:00:00 CET", Duration: "1m7s",
				From: "sip:+49305550012@10.1.0.1", FromName: "Şahin Łukasz Ødegård Jürgens", To: "sip:20012@10.2.0.1",
				Accesses: []art15Access{{When: "2026-12-05 10:00:00 CET", Who: "carla", What: "played the recording"}}}}}
		b, err := s.art15PDF(d, lang)
		if err != nil {
			t.Fatal(err)
		}
		txt := PDFText(b)
		for _, want := range []string{"Şahin Łukasz Ødegård Jürgens", "+49305550012", "1m7s", "carla"} {
			if !strings.Contains(txt, want) {
				t.Fatalf("%s: the PDF lacks %q: %s", lang, want, txt)
			}
		}
		if !strings.Contains(txt, "1/1") {
			t.Fatalf("%s: no page number: %s", lang, txt)
		}
		if lang == language.German && !strings.Contains(txt, "Auskunft über die Aufzeichnungen Ihrer Gespräche") {
			t.Fatalf("the German PDF's title: %s", txt)
		}
	}
}
