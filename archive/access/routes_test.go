package access_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// routeFixture: two boxes, a user of every role scoped to branch-1, and
// helpers (unscoped or on branch-2) who file what the cells act on.
type routeFixture struct {
	t       *testing.T
	e       *env
	users   map[access.Role]*user
	api     map[access.Role]*api
	web     map[access.Role]*webClient
	hAdmin  *api // unscoped admin
	hDPO    *api // unscoped dpo
	hComp1  *api // compliance of branch-1
	hComp2  *api // compliance of branch-2
	hCRM2   *api // crm of branch-2
	read1   string
	read2   string
	pool1   []string // erasable recordings of branch-1, each used once
	unknown string
}

type webClient struct {
	c    *http.Client
	csrf string
}

func (f *routeFixture) next1() string {
	f.t.Helper()
	if len(f.pool1) == 0 {
		f.t.Fatal("no erasable recording of branch-1 left")
	}
	id := f.pool1[0]
	f.pool1 = f.pool1[1:]
	return id
}

// file files a request as c (and, approve: a second person approves it).
func (f *routeFixture) file(c *api, in access.RequestInput, approver *api) int64 {
	f.t.Helper()
	var req access.Request
	if st, body := c.do("POST", "/api/v1/requests", in, &req); st != 202 {
		f.t.Fatalf("filing %+v: %d %s", in, st, body)
	}
	if approver != nil {
		if st, body := approver.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", req.ID), nil, nil); st != 200 {
			f.t.Fatalf("approving %d: %d %s", req.ID, st, body)
		}
	}
	return req.ID
}

// decidable: a fresh request the role may decide (in), the same kind on
// branch-2 (out), or none (unknown).
func (f *routeFixture) decidable(r access.Role, tgt string, approve bool) string {
	if tgt == "unknown" {
		return "999999"
	}
	in := tgt == "in"
	var id int64
	switch r {
	case access.Admin:
		u := "t-victim1"
		b := "branch-1"
		if !in {
			u, b = "h2-victim", "branch-2"
		}
		id = f.file(f.hAdmin, access.RequestInput{Kind: access.ReqRole, User: u, Role: "supervisor", Branches: []string{b}, Reason: "table"}, nil)
	case access.DPO:
		rec, app := f.read2, "branch-2"
		if in {
			rec, app = f.read1, "branch-1"
			if approve {
				rec = f.next1()
			}
		}
		id = f.file(f.hDPO, access.RequestInput{Kind: access.ReqErase, Appliance: app, Recording: rec, Reason: "table"}, nil)
	default:
		c, app, rec := f.hComp1, "branch-1", f.read1
		if !in {
			c, app, rec = f.hComp2, "branch-2", f.read2
		}
		id = f.file(c, access.RequestInput{Kind: access.ReqExport, Appliance: app, Recording: rec, Reason: "table"}, nil)
	}
	return fmt.Sprint(id)
}

// cell is one request of the table.
type cell struct {
	method, path string
	json         any        // API body
	form         url.Values // web body
	fresh        bool       // a session of its own (the cell ends it)
}

// routeSpec: who may use a route, what it answers then, and how to aim
// it at a target in branch-1 ("in"), in branch-2 ("out"), or at nothing
// that exists ("unknown"); targetless routes get "none".
type routeSpec struct {
	pattern string
	web     bool          // a page: cookie session and CSRF token
	public  bool          // no session: the same answer for everyone
	roles   []access.Role // roles it serves (nil: every signed-in role)
	ok      int           // its answer to them, on a target in scope
	targets bool          // aimed at a target
	make    func(f *routeFixture, r access.Role, tgt string) cell
}

var everyRole []access.Role // nil: any role

func routeTable() []routeSpec {
	get := func(p string) func(*routeFixture, access.Role, string) cell {
		return func(*routeFixture, access.Role, string) cell { return cell{method: "GET", path: p} }
	}
	rec := func(f *routeFixture, tgt string) (string, string) {
		switch tgt {
		case "in":
			return "branch-1", f.read1
		case "out":
			return "branch-2", f.read2
		}
		return "branch-1", f.unknown
	}
	branch := map[string]string{"in": "branch-1", "out": "branch-2", "unknown": "branch-9"}
	user := map[string]string{"in": "t-victim1", "out": "h2-victim", "unknown": "nobody"}
	searchers := []access.Role{access.Supervisor, access.Compliance, access.DPO}
	deciders := []access.Role{access.Admin, access.Compliance, access.DPO}
	revokers := []access.Role{access.Admin, access.DPO, access.CRM}
	link := func(f *routeFixture, r access.Role, tgt string) string {
		var l access.Link
		switch tgt {
		case "in":
			if st, body := f.api[access.CRM].do("POST", "/api/v1/links", access.MintLink{Appliance: "branch-1", Recording: f.read1, TTL: "5m"}, &l); st != 200 {
				f.t.Fatalf("mint: %d %s", st, body)
			}
		case "out":
			if st, body := f.hCRM2.do("POST", "/api/v1/links", access.MintLink{Appliance: "branch-2", Recording: f.read2, TTL: "5m"}, &l); st != 200 {
				f.t.Fatalf("mint: %d %s", st, body)
			}
		default:
			l.ID = "nolinkwiththisid"
		}
		return l.ID
	}
	export := func(f *routeFixture, r access.Role, tgt string) string {
		switch tgt {
		case "in":
			if r != access.Compliance {
				return "1"
			}
			return fmt.Sprint(f.file(f.api[access.Compliance], access.RequestInput{Kind: access.ReqExport, Appliance: "branch-1", Recording: f.read1, Reason: "table"}, f.hDPO))
		case "out":
			return fmt.Sprint(f.file(f.hComp2, access.RequestInput{Kind: access.ReqExport, Appliance: "branch-2", Recording: f.read2, Reason: "table"}, f.hDPO))
		}
		return "999999"
	}
	// What each role asks for through POST /api/v1/requests.
	request := func(f *routeFixture, r access.Role, tgt string) access.RequestInput {
		app, id := rec(f, tgt)
		switch r {
		case access.Admin:
			b := "branch-1"
			if tgt == "out" {
				b = "branch-2"
			}
			return access.RequestInput{Kind: access.ReqRole, User: user[tgt], Role: "supervisor", Branches: []string{b}, Reason: "table"}
		case access.DPO:
			return access.RequestInput{Kind: access.ReqErase, Appliance: app, Recording: id, Reason: "table"}
		}
		return access.RequestInput{Kind: access.ReqExport, Appliance: app, Recording: id, Reason: "table"}
	}
	return []routeSpec{
		// The JSON API.
		{pattern: "POST /api/v1/session", public: true, ok: http.StatusUnauthorized, make: func(*routeFixture, access.Role, string) cell {
			return cell{method: "POST", path: "/api/v1/session", json: access.SignIn{Name: "nobody", Password: "wrong", TOTP: "000000"}}
		}},
		{pattern: "DELETE /api/v1/session", roles: everyRole, ok: http.StatusNoContent, make: func(*routeFixture, access.Role, string) cell {
			return cell{method: "DELETE", path: "/api/v1/session", fresh: true}
		}},
		{pattern: "GET /api/v1/recordings", roles: searchers, ok: 200, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			return cell{method: "GET", path: "/api/v1/recordings?branch=" + branch[tgt]}
		}},
		{pattern: "GET /api/v1/recordings/{app}/{id}", roles: searchers, ok: 200, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			app, id := rec(f, tgt)
			return cell{method: "GET", path: "/api/v1/recordings/" + app + "/" + id}
		}},
		{pattern: "GET /api/v1/recordings/{app}/{id}/audio", roles: []access.Role{access.Supervisor, access.Compliance}, ok: 200, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			app, id := rec(f, tgt)
			return cell{method: "GET", path: "/api/v1/recordings/" + app + "/" + id + "/audio"}
		}},
		{pattern: "POST /api/v1/recordings/{app}/{id}/hold", roles: []access.Role{access.DPO}, ok: 200, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			app, id := rec(f, tgt)
			if tgt == "in" && r == access.DPO {
				id = f.next1()
			}
			return cell{method: "POST", path: "/api/v1/recordings/" + app + "/" + id + "/hold", json: map[string]string{"reason": "table"}}
		}},
		{pattern: "POST /api/v1/links", roles: []access.Role{access.CRM}, ok: 200, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			_, id := rec(f, tgt)
			return cell{method: "POST", path: "/api/v1/links", json: access.MintLink{Recording: id, TTL: "5m"}}
		}},
		// crm revokes its own links, a DPO or admin any in its branches
		// (in: a link the crm user of branch-1 minted).
		{pattern: "DELETE /api/v1/links/{id}", roles: revokers, ok: http.StatusNoContent, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			return cell{method: "DELETE", path: "/api/v1/links/" + link(f, r, tgt)}
		}},
		// The live links: a crm user's own, a DPO's or admin's branches'.
		{pattern: "GET /api/v1/links", roles: revokers, ok: 200, make: get("/api/v1/links")},
		{pattern: "POST /api/v1/recordings/{app}/{id}/dtmf", roles: []access.Role{access.Compliance}, ok: 200, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			app, id := rec(f, tgt)
			return cell{method: "POST", path: "/api/v1/recordings/" + app + "/" + id + "/dtmf", json: access.RevealDTMF{Reason: "table"}}
		}},
		{pattern: "GET /l/{token}", public: true, ok: http.StatusForbidden, make: get("/l/garbage.garbage")},
		{pattern: "GET /setup/{token}", web: true, public: true, ok: http.StatusNotFound, make: get("/setup/garbage")},
		{pattern: "POST /setup/{token}", web: true, public: true, ok: http.StatusNotFound, make: func(*routeFixture, access.Role, string) cell {
			return cell{method: "POST", path: "/setup/garbage", form: url.Values{"password": {"a long password here"}, "password2": {"a long password here"}, "totp": {"000000"}}}
		}},
		{pattern: "POST /api/v1/requests", roles: deciders, ok: http.StatusAccepted, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			return cell{method: "POST", path: "/api/v1/requests", json: request(f, r, tgt)}
		}},
		{pattern: "GET /api/v1/requests", roles: everyRole, ok: 200, make: get("/api/v1/requests")},
		{pattern: "POST /api/v1/requests/{id}/approve", roles: deciders, ok: 200, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			return cell{method: "POST", path: "/api/v1/requests/" + f.decidable(r, tgt, true) + "/approve"}
		}},
		{pattern: "POST /api/v1/requests/{id}/reject", roles: deciders, ok: 200, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			return cell{method: "POST", path: "/api/v1/requests/" + f.decidable(r, tgt, false) + "/reject"}
		}},
		{pattern: "GET /api/v1/requests/{id}/export", roles: []access.Role{access.Compliance}, ok: 200, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			return cell{method: "GET", path: "/api/v1/requests/" + export(f, r, tgt) + "/export"}
		}},
		// The fixture's boxes have not sent a coverage ledger (their day
		// is not over): the exporter gets past every right to the
		// bundle's refusal, and the export is left unused.
		{pattern: "POST /web/requests/{id}/evidence", web: true, roles: []access.Role{access.Compliance}, ok: http.StatusConflict, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			return cell{method: "POST", path: "/web/requests/" + export(f, r, tgt) + "/evidence", form: url.Values{}}
		}},
		{pattern: "POST /api/v1/subject", roles: []access.Role{access.DPO}, ok: 200, make: func(*routeFixture, access.Role, string) cell {
			return cell{method: "POST", path: "/api/v1/subject", json: access.SubjectQuery{Numbers: []string{number(12)}}}
		}},
		{pattern: "GET /api/v1/users", roles: []access.Role{access.Admin}, ok: 200, make: get("/api/v1/users")},
		{pattern: "POST /api/v1/users/{name}/clear", roles: []access.Role{access.Admin, access.DPO}, ok: http.StatusNoContent, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			return cell{method: "POST", path: "/api/v1/users/" + user[tgt] + "/clear"}
		}},
		// Unlock: the account operation that changes nothing another cell needs.
		{pattern: "POST /api/v1/users/{name}/{op}", roles: []access.Role{access.Admin}, ok: http.StatusNoContent, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			return cell{method: "POST", path: "/api/v1/users/" + user[tgt] + "/unlock", json: access.AccountOp{Reason: "table"}}
		}},
		// Public: a wrong current password is refused before anything changes.
		{pattern: "POST /api/v1/password", public: true, ok: http.StatusUnauthorized, make: func(*routeFixture, access.Role, string) cell {
			return cell{method: "POST", path: "/api/v1/password", json: access.ChangePassword{Name: "nobody", Password: "wrong", TOTP: "000000", NewPassword: "a long enough new password"}}
		}},
		{pattern: "GET /api/v1/audit", roles: []access.Role{access.Auditor}, ok: 200, make: get("/api/v1/audit")},
		{pattern: "GET /api/v1/fleet", roles: []access.Role{access.Admin, access.Auditor}, ok: 200, make: get("/api/v1/fleet")},
		{pattern: "GET /api/v1/updates", roles: []access.Role{access.Admin, access.Auditor}, ok: 200, make: get("/api/v1/updates")},

		// The pages.
		{pattern: "GET /static/", web: true, public: true, ok: 200, make: get("/static/style.css")},
		{pattern: "GET /signin", web: true, public: true, ok: 200, make: get("/signin")},
		{pattern: "GET /lang", web: true, public: true, ok: http.StatusSeeOther, make: get("/lang?to=de&next=/search")},
		{pattern: "POST /signin", web: true, public: true, ok: http.StatusUnauthorized, make: func(*routeFixture, access.Role, string) cell {
			return cell{method: "POST", path: "/signin", form: url.Values{"name": {"nobody"}, "password": {"wrong"}, "totp": {"000000"}}}
		}},
		{pattern: "POST /signout", web: true, roles: everyRole, ok: http.StatusSeeOther, make: func(*routeFixture, access.Role, string) cell {
			return cell{method: "POST", path: "/signout", form: url.Values{}, fresh: true}
		}},
		{pattern: "GET /password", web: true, roles: everyRole, ok: 200, make: get("/password")},
		{pattern: "POST /password", web: true, roles: everyRole, ok: http.StatusBadRequest, make: func(*routeFixture, access.Role, string) cell {
			return cell{method: "POST", path: "/password", form: url.Values{"password": {"short"}}}
		}},
		{pattern: "GET /{$}", web: true, roles: everyRole, ok: http.StatusSeeOther, make: get("/")},
		{pattern: "GET /search", web: true, roles: searchers, ok: 200, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			return cell{method: "GET", path: "/search?branch=" + branch[tgt]}
		}},
		// The auditor reads the record and its access history (recording.go).
		{pattern: "GET /r/{app}/{id}", web: true, roles: append([]access.Role{access.Auditor}, searchers...), ok: 200, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			app, id := rec(f, tgt)
			return cell{method: "GET", path: "/r/" + app + "/" + id}
		}},
		// The level picture: who sees the call's events (levels.go).
		{pattern: "GET /r/{app}/{id}/levels.svg", web: true, roles: searchers, ok: 200, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			app, id := rec(f, tgt)
			return cell{method: "GET", path: "/r/" + app + "/" + id + "/levels.svg"}
		}},
		{pattern: "GET /links", web: true, roles: []access.Role{access.CRM}, ok: 200, make: get("/links")},
		{pattern: "POST /links", web: true, roles: []access.Role{access.CRM}, ok: 200, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			_, id := rec(f, tgt)
			return cell{method: "POST", path: "/links", form: url.Values{"recording": {id}, "ttl": {"5m"}}}
		}},
		{pattern: "GET /requests", web: true, roles: everyRole, ok: 200, make: get("/requests")},
		// The page files exports and erasures (role changes: the API).
		{pattern: "POST /web/request", web: true, roles: []access.Role{access.Compliance, access.DPO}, ok: http.StatusSeeOther, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			app, id := rec(f, tgt)
			kind := access.ReqExport
			if r == access.DPO {
				kind = access.ReqErase
			}
			return cell{method: "POST", path: "/web/request", form: url.Values{"kind": {kind}, "appliance": {app}, "recording": {id}, "reason": {"table"}}}
		}},
		{pattern: "POST /web/decide/{id}", web: true, roles: deciders, ok: http.StatusSeeOther, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			return cell{method: "POST", path: "/web/decide/" + f.decidable(r, tgt, true), form: url.Values{"approve": {"1"}}}
		}},
		{pattern: "GET /subject", web: true, roles: []access.Role{access.DPO}, ok: 200, make: get("/subject")},
		{pattern: "POST /subject", web: true, roles: []access.Role{access.DPO}, ok: 200, make: func(*routeFixture, access.Role, string) cell {
			return cell{method: "POST", path: "/subject", form: url.Values{"numbers": {number(12)}}}
		}},
		{pattern: "GET /fleet", web: true, roles: []access.Role{access.Admin, access.Auditor}, ok: 200, make: get("/fleet")},
		{pattern: "GET /fleet/updates", web: true, roles: []access.Role{access.Admin, access.Auditor}, ok: 200, make: get("/fleet/updates")},
		{pattern: "GET /audit", web: true, roles: []access.Role{access.Auditor}, ok: 200, make: get("/audit")},
		{pattern: "GET /users", web: true, roles: []access.Role{access.Admin}, ok: 200, make: get("/users")},
		{pattern: "GET /links/manage", web: true, roles: revokers, ok: 200, make: get("/links/manage")},
		{pattern: "POST /web/links/{id}/revoke", web: true, roles: revokers, ok: http.StatusSeeOther, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			return cell{method: "POST", path: "/web/links/" + link(f, r, tgt) + "/revoke", form: url.Values{}}
		}},
		{pattern: "POST /web/dtmf/{app}/{id}", web: true, roles: []access.Role{access.Compliance}, ok: 200, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			app, id := rec(f, tgt)
			return cell{method: "POST", path: "/web/dtmf/" + app + "/" + id, form: url.Values{"reason": {"table"}}}
		}},
		{pattern: "POST /web/users/{name}/{op}", web: true, roles: []access.Role{access.Admin}, ok: http.StatusSeeOther, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			return cell{method: "POST", path: "/web/users/" + user[tgt] + "/unlock", form: url.Values{"reason": {"table"}}}
		}},
		// Work queues (queues.go).
		{pattern: "GET /inbox", web: true, roles: []access.Role{access.Admin, access.DPO}, ok: 200, make: get("/inbox")},
		{pattern: "POST /subject/document", web: true, roles: []access.Role{access.DPO}, ok: 200, make: func(*routeFixture, access.Role, string) cell {
			return cell{method: "POST", path: "/subject/document", form: url.Values{"numbers": {number(12)}, "format": {"pdf"}}}
		}},
		{pattern: "GET /users/new", web: true, roles: []access.Role{access.Admin}, ok: 200, make: get("/users/new")},
		{pattern: "POST /users/new", web: true, roles: []access.Role{access.Admin}, ok: 200, make: func(*routeFixture, access.Role, string) cell {
			return cell{method: "POST", path: "/users/new", form: url.Values{"name": {"t-new"}, "role": {"supervisor"}, "branch": {"branch-1"}, "reason": {"table"}}}
		}},
		{pattern: "POST /web/clear/{name}", web: true, roles: []access.Role{access.Admin, access.DPO}, ok: http.StatusSeeOther, targets: true, make: func(f *routeFixture, r access.Role, tgt string) cell {
			return cell{method: "POST", path: "/web/clear/" + user[tgt], form: url.Values{}}
		}},
		// Enrollment: a code that names no request approves nothing (404).
		// Enrollment: admins of every branch only (the table's admin is
		// scoped to branch-1: refused before any code is looked up).
		{pattern: "GET /api/v1/enrollments", roles: []access.Role{access.Admin}, ok: http.StatusForbidden, make: get("/api/v1/enrollments")},
		{pattern: "POST /api/v1/enrollments/approve", roles: []access.Role{access.Admin}, ok: http.StatusForbidden, make: func(*routeFixture, access.Role, string) cell {
			return cell{method: "POST", path: "/api/v1/enrollments/approve", json: access.ApproveEnrollment{Code: "0000-0000-0000-0000", Name: "branch-9"}}
		}},
		{pattern: "GET /fleet/enroll", web: true, roles: []access.Role{access.Admin}, ok: http.StatusForbidden, make: get("/fleet/enroll")},
		{pattern: "POST /web/enroll", web: true, roles: []access.Role{access.Admin}, ok: http.StatusForbidden, make: func(*routeFixture, access.Role, string) cell {
			return cell{method: "POST", path: "/web/enroll", form: url.Values{"code": {"0000-0000-0000-0000"}, "name": {"branch-9"}}}
		}},
	}
}

// muxRoutes reads every pattern the service registers from its source:
// every call of a Handle or HandleFunc method in every non-test file of
// the package, wherever it is, so that a route added in any file fails
// the table until the table has its row. A pattern that is not a string
// literal cannot be checked and fails the test.
func muxRoutes(t *testing.T) []string {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") || len(call.Args) == 0 {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Fatalf("%s: a route registered with a pattern that is not a string literal: the table cannot check it", fset.Position(call.Pos()))
			}
			p, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatalf("%s: %v", fset.Position(lit.Pos()), err)
			}
			out = append(out, p)
			return true
		})
	}
	if len(out) == 0 {
		t.Fatal("no route found in the package's source")
	}
	slices.Sort(out)
	return out
}

// TestRouteTable (issue 20, acceptance 1): every route of the service,
// web and API, times every role, times a target in the user's branch, in
// another branch and unknown: the expected status for each, a refusal
// audited each time, and another branch's target answered exactly like
// an unknown one.
func TestRouteTable(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) {
		c.Access.InsiderMaxPlays = 100000
		c.Access.WorkingHours = "00:00-24:00"
	})
	start := e.clock.Now().Add(-3 * time.Hour)
	e.addBox("branch-1", synth.Config{Calls: 24, Concurrent: 4, Duration: time.Second, Start: start})
	e.addBox("branch-2", synth.Config{Calls: 24, Concurrent: 4, Duration: time.Second, Start: start.Add(time.Minute)})
	f := &routeFixture{t: t, e: e, users: map[access.Role]*user{}, api: map[access.Role]*api{}, web: map[access.Role]*webClient{}, unknown: "00000000000000000000000000"}
	for i := 0; ; i++ {
		id := e.defaultClass(t, "branch-1", i)
		if i == 0 {
			f.read1 = id
			continue
		}
		f.pool1 = append(f.pool1, id)
		if len(f.pool1) == 12 {
			break
		}
	}
	f.read2 = e.defaultClass(t, "branch-2", 0)
	e.addUser("t-victim1", access.Supervisor, "branch-1")
	e.addUser("h2-victim", access.Supervisor, "branch-2")
	f.hAdmin = e.signIn(e.addUser("h-admin", access.Admin))
	f.hDPO = e.signIn(e.addUser("h-dpo", access.DPO))
	f.hComp1 = e.signIn(e.addUser("h-comp1", access.Compliance, "branch-1"))
	f.hComp2 = e.signIn(e.addUser("h-comp2", access.Compliance, "branch-2"))
	f.hCRM2 = e.signIn(e.addUser("h-crm2", access.CRM, "branch-2"))
	for _, r := range access.Roles {
		u := e.addUser("t-"+string(r), r, "branch-1")
		f.users[r] = u
		f.web[r] = f.webSession(u)
		f.api[r] = e.signIn(u)
	}

	table := routeTable()
	var patterns []string
	for _, rs := range table {
		patterns = append(patterns, rs.pattern)
	}
	slices.Sort(patterns)
	if mux := muxRoutes(t); !slices.Equal(mux, patterns) {
		var norow, noroute []string
		for _, p := range mux {
			if !slices.Contains(patterns, p) {
				norow = append(norow, p)
			}
		}
		for _, p := range patterns {
			if !slices.Contains(mux, p) {
				noroute = append(noroute, p)
			}
		}
		t.Fatalf("the table does not cover the mux exactly: routes without a row %q; rows without a route %q (or a pattern registered twice)", norow, noroute)
	}
	cells := 0
	for _, rs := range table {
		for _, r := range access.Roles {
			if rs.public && r != access.Roles[0] {
				// Nobody is signed in: once is the route's answer (and
				// repeated bad sign-ins from one source are slowed down).
				continue
			}
			targets := []string{"none"}
			if rs.targets {
				targets = []string{"in", "out", "unknown"}
			}
			bodies := map[string]string{}
			for _, tgt := range targets {
				want := rs.ok
				switch {
				case rs.public:
				case rs.roles != nil && !slices.Contains(rs.roles, r):
					want = http.StatusForbidden
				case tgt == "out" || tgt == "unknown":
					want = http.StatusNotFound
				}
				c := rs.make(f, r, tgt)
				name := f.users[r].name
				denied := e.events("denied", name, "")
				st, body := f.send(rs, r, c)
				cells++
				if st != want {
					t.Errorf("%s as %s, target %s (%s %s): %d, want %d: %.200s", rs.pattern, r, tgt, c.method, c.path, st, want, body)
					continue
				}
				if !rs.public && (st == http.StatusForbidden || st == http.StatusNotFound) && e.events("denied", name, "") == denied {
					t.Errorf("%s as %s, target %s: refusal %d not audited", rs.pattern, r, tgt, st)
				}
				if want == http.StatusNotFound {
					bodies[tgt] = body
				}
			}
			if len(bodies) == 2 && bodies["out"] != bodies["unknown"] {
				t.Errorf("%s as %s: another branch's target answers %q, an unknown one %q", rs.pattern, r, bodies["out"], bodies["unknown"])
			}
		}
	}
	t.Logf("%d routes, %d cells", len(table), cells)
}

// webSession signs u in through the page and keeps its CSRF token.
func (f *routeFixture) webSession(u *user) *webClient {
	c := f.e.httpClient()
	page := webSignIn(f.t, f.e, c, u)
	w := &webClient{c: c, csrf: between(page, `name="csrf" value="`, `"`)}
	if w.csrf == "" {
		f.t.Fatalf("no CSRF token on the page for %s", u.name)
	}
	return w
}

// send runs a cell as role r (on a session of its own when the cell
// ends it).
func (f *routeFixture) send(rs routeSpec, r access.Role, c cell) (int, string) {
	f.t.Helper()
	if !rs.web {
		a := f.api[r]
		if rs.public {
			a = &api{e: f.e, http: f.e.httpClient()}
		} else if c.fresh {
			a = f.e.signIn(f.users[r])
		}
		return a.do(c.method, c.path, c.json, nil)
	}
	w := f.web[r]
	if rs.public {
		w = &webClient{c: f.e.httpClient()}
	} else if c.fresh {
		w = f.webSession(f.users[r])
	}
	var body io.Reader
	if c.form != nil {
		body = strings.NewReader(c.form.Encode())
	}
	req, _ := http.NewRequest(c.method, f.e.web+c.path, body)
	if c.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if w.csrf != "" {
		req.Header.Set("X-CSRF-Token", w.csrf)
	}
	resp, err := w.c.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	return resp.StatusCode, readAll(resp)
}
