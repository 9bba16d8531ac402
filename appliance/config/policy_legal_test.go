package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/vault/retention"
)

func TestLegalFloor(t *testing.T) {
	const day = 24 * time.Hour
	base := func() *retention.Policy {
		return &retention.Policy{DefaultClass: "default", Classes: []retention.Class{
			{Name: "default", Record: true, MaxAge: retention.Duration(90 * day), Grace: retention.Duration(7 * day)},
			{Name: "mifid", Record: true, MaxAge: retention.Duration(7 * 365 * day), MustSync: true, Grace: retention.Duration(30 * day)},
		}}
	}
	for _, tc := range []struct {
		name        string
		mut         func(p *retention.Policy)
		floor, kept string // "" allowed, else part of the refusal
	}{
		{"unchanged", func(p *retention.Policy) {}, "", ""},
		{"default shortened", func(p *retention.Policy) { p.Classes[0].MaxAge = retention.Duration(day) }, "", ""},
		{"legal lengthened", func(p *retention.Policy) { p.Classes[1].MaxAge = retention.Duration(10 * 365 * day) }, "", ""},
		{"legal max_age lowered", func(p *retention.Policy) { p.Classes[1].MaxAge = retention.Duration(time.Hour) }, "max_age 1h0m0s is below", ""},
		{"legal grace lowered", func(p *retention.Policy) { p.Classes[1].Grace = retention.Duration(day) }, "grace 24h0m0s is below", ""},
		{"must_sync removed", func(p *retention.Policy) { p.Classes[1].MustSync = false }, "must_sync may not be removed", "must_sync may not be removed"},
		{"legal class dropped", func(p *retention.Policy) { p.Classes = p.Classes[:1] }, "may not be dropped", "may not be dropped"},
	} {
		next := base()
		tc.mut(next)
		for _, c := range []struct {
			what string
			err  error
			want string
		}{{"floor", config.CheckLegalFloor(base(), next), tc.floor}, {"kept", config.CheckLegalKept(base(), next), tc.kept}} {
			if (c.want == "") != (c.err == nil) || c.err != nil && !strings.Contains(c.err.Error(), c.want) {
				t.Errorf("%s: %s: %v, want %q", tc.name, c.what, c.err, c.want)
			}
		}
	}
}
