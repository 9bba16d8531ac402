package access

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/text/language"

	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/sync/wire"
)

// The Art. 15 report as a document for the data subject: the same rows
// for the page and the PDF, every time in the archive's time zone, with
// the personal data the JSON has (numbers, names, durations), who
// accessed each recording and how, and what was deleted, when and why.

// art15Doc is the report as the page and the PDF show it.
type art15Doc struct {
	pageHead
	Generated   string
	By          string
	Zone        string
	Numbers     []string
	NumbersText string // the numbers again, for the download and erasure forms
	Held        []art15Row
	Deleted     []art15Row
	Erasures    []art15Erasure
}

// art15Row is one recording or call record.
type art15Row struct {
	Branch, ID, Kind      string
	Start, Duration       string
	Direction             string
	From, FromName, To    string
	Asserted              string // P-Asserted-Identity
	Class, KeptUntil      string
	Hold                  bool
	DeletedAt, Reason, By string
	Accesses              []art15Access
}

type art15Access struct{ When, Who, What string }

type art15Erasure struct{ Branch, Recording, Issued, Done, Result string }

// art15 turns a report into the document's rows, times in the archive's
// zone.
func (s *Service) art15(r *http.Request, rep *SubjectReport) art15Doc {
	loc := s.zone()
	lang := readerLanguage(r)
	when := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(loc).Format("2006-01-02 15:04:05 MST")
	}
	row := func(it SubjectItem) art15Row {
		x := art15Row{Branch: it.Appliance, ID: it.ID, Kind: translate(lang, "recording"), Start: when(it.Start), Direction: it.Direction,
			Class: it.Class, Hold: it.Hold, DeletedAt: when(it.DeletedAt), Reason: it.Reason, By: it.DeletedBy}
		switch {
		case it.Kind == wire.KindCDR:
			x.Kind = translate(lang, "call record (no audio)")
		case it.Kind == wire.KindTombstone && !it.Recorded:
			x.Kind = translate(lang, "call record (no audio)")
		}
		if it.Duration > 0 {
			x.Duration = (time.Duration(it.Duration*10) * time.Second / 10).String()
		}
		if !it.RetainUntil.IsZero() {
			x.KeptUntil = it.RetainUntil.In(loc).Format("2006-01-02")
		}
		if p := it.Personal; p != nil {
			x.From, x.FromName, x.To, x.Asserted = p.From, p.FromName, p.To, p.PAI
		}
		for _, a := range it.Accesses {
			x.Accesses = append(x.Accesses, art15Access{When: when(a.Time), Who: a.Who, What: translate(lang, a.What)})
		}
		return x
	}
	d := art15Doc{pageHead: pageHead{Title: "Subject access report (GDPR Art. 15)"}, Generated: when(rep.Generated), By: rep.By, Zone: loc.String(), Numbers: rep.Numbers, NumbersText: strings.Join(rep.Numbers, "\n")}
	for _, it := range rep.Items {
		d.Held = append(d.Held, row(it))
	}
	for _, it := range rep.Deleted {
		d.Deleted = append(d.Deleted, row(it))
	}
	for _, c := range rep.Erasures {
		d.Erasures = append(d.Erasures, art15Erasure{Branch: c.Appliance, Recording: c.Recording, Issued: when(c.IssuedAt), Done: when(c.DoneAt),
			Result: strings.TrimSpace(c.Result + " " + c.ResultReason)})
	}
	return d
}

// pdfFont is the family the PDF is set in.
const pdfFont = "go"

// art15PDF renders the document as a PDF (A4) in the Go fonts (embedded
// in the binary, subset into the PDF): names print as they are in any
// Latin, Greek or Cyrillic script, not only in Windows-1252.
func (s *Service) art15PDF(d art15Doc, lang language.Tag) ([]byte, error) {
	T := func(v string) string { return translate(lang, v) }
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle("Art. 15", true)
	pdf.SetCreator("spanvault archive", true)
	pdf.SetAutoPageBreak(true, 15)
	pdf.AddUTF8FontFromBytes(pdfFont, "", goregular.TTF)
	pdf.AddUTF8FontFromBytes(pdfFont, "B", gobold.TTF)
	pdf.AliasNbPages("")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont(pdfFont, "", 8)
		pdf.CellFormat(0, 5, fmt.Sprintf("%s %d/{nb}", T("Page"), pdf.PageNo()), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	h := func(size float64, text string) {
		pdf.SetFont(pdfFont, "B", size)
		pdf.MultiCell(0, size*0.5, text, "", "L", false)
		pdf.Ln(2)
	}
	p := func(text string) {
		pdf.SetFont(pdfFont, "", 10)
		pdf.MultiCell(0, 5, text, "", "L", false)
	}
	h(16, T("Information about the recordings of your calls (GDPR Art. 15)"))
	p(fmt.Sprintf("%s: %s. %s: %s. %s: %s.", T("Made"), d.Generated, T("By"), d.By, T("Times in"), d.Zone))
	p(T("Numbers") + ": " + strings.Join(d.Numbers, ", "))
	pdf.Ln(3)
	rows := func(rs []art15Row, deleted bool) {
		for _, x := range rs {
			if pdf.GetY() > 250 {
				pdf.AddPage()
			}
			pdf.SetFont(pdfFont, "B", 11)
			pdf.MultiCell(0, 6, fmt.Sprintf("%s, %s %s", x.Start, T("branch"), x.Branch), "T", "L", false)
			var lines []string
			lines = append(lines, fmt.Sprintf("%s: %s", T("What"), x.Kind))
			if x.From != "" || x.To != "" {
				from := x.From
				if x.FromName != "" {
					from += " (" + x.FromName + ")"
				}
				lines = append(lines, fmt.Sprintf("%s: %s   %s: %s", T("From"), from, T("To"), x.To))
			}
			if x.Asserted != "" {
				lines = append(lines, fmt.Sprintf("%s: %s", T("Asserted identity"), x.Asserted))
			}
			if x.Duration != "" {
				lines = append(lines, fmt.Sprintf("%s: %s   %s: %s", T("Duration"), x.Duration, T("Direction"), x.Direction))
			}
			if x.Class != "" {
				lines = append(lines, fmt.Sprintf("%s: %s   %s: %s", T("Class"), x.Class, T("Kept until"), x.KeptUntil))
			}
			if x.Hold {
				lines = append(lines, T("On legal hold: kept until the hold is released."))
			}
			if deleted {
				lines = append(lines, fmt.Sprintf("%s: %s   %s: %s   %s: %s", T("Deleted"), x.DeletedAt, T("Why"), x.Reason, T("By"), x.By))
			}
			lines = append(lines, fmt.Sprintf("%s: %s", T("Reference"), x.ID))
			p(strings.Join(lines, "\n"))
			if len(x.Accesses) == 0 {
				p(T("Nobody accessed it."))
			} else {
				p(T("Who accessed it") + ":")
				for _, a := range x.Accesses {
					p(fmt.Sprintf("  %s  %s %s", a.When, a.Who, a.What))
				}
			}
			pdf.Ln(2)
		}
	}
	h(13, fmt.Sprintf("%s (%d)", T("What we hold"), len(d.Held)))
	if len(d.Held) == 0 {
		p(T("Nothing."))
	}
	rows(d.Held, false)
	h(13, fmt.Sprintf("%s (%d)", T("What was deleted"), len(d.Deleted)))
	if len(d.Deleted) == 0 {
		p(T("Nothing."))
	}
	rows(d.Deleted, true)
	if len(d.Erasures) > 0 {
		h(13, T("Erasures in progress"))
		for _, e := range d.Erasures {
			done := e.Done
			if done == "" {
				done = T("not yet done")
			}
			p(fmt.Sprintf("%s %s: %s %s, %s %s %s", T("branch"), e.Branch, T("issued"), e.Issued, T("done"), done, e.Result))
		}
	}
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return nil, fmt.Errorf("access: the report as PDF: %w", err)
	}
	return b.Bytes(), nil
}

// erasureReason is why a tombstone's recording was deleted: for an
// erasure, the free text its box sealed for the archive ("erasure: ..."
// when the keys open it), otherwise the clear reason.
func (s *Service) erasureReason(t *record.Tombstone) string {
	if len(t.SealedReason) == 0 || s.Keys == nil {
		return t.Reason
	}
	b, err := s.Keys.Decrypt(t.SealedReason)
	if err != nil {
		return t.Reason
	}
	var v struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(b, &v) != nil || v.Reason == "" {
		return t.Reason
	}
	return t.Reason + ": " + v.Reason
}
