package access_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/internal/httperr"
	"github.com/spanvault/spanvault/sync/client"
)

// A database fault under a running service reaches the client as a 500
// with a generic message: the database's text goes to the log only (it
// used to answer 400 "bad request" with the SQL error's text).
func TestDatabaseFaultIs500WithoutItsText(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 1, Concurrent: 1, Duration: 2 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	c := e.signIn(e.addUser("comp", access.Compliance, "branch-1"))
	web := e.httpClient()
	webSignIn(t, e, web, e.addUser("sup", access.Supervisor, "branch-1"))
	if _, err := e.a.Index.DB().ExecContext(context.Background(), `DROP TABLE search_facts`); err != nil {
		t.Fatal(err)
	}
	st, body := c.do("GET", "/api/v1/recordings?direction=in", nil, nil)
	var rep struct{ Error string }
	json.Unmarshal([]byte(body), &rep)
	if st != http.StatusInternalServerError || rep.Error != httperr.GenericMessage {
		t.Errorf("API search over a broken index: %d %s, want 500 {\"error\": %q}", st, strings.TrimSpace(body), httperr.GenericMessage)
	}
	// The web page: the same, as a page.
	resp, err := web.Get(e.web + "/search?" + url.Values{"direction": {"in"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(resp)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(page, httperr.GenericMessage) {
		t.Errorf("web search over a broken index: %d, want 500 and %q", resp.StatusCode, httperr.GenericMessage)
	}
	for _, reply := range []string{body, page} {
		if strings.Contains(reply, "search_facts") || strings.Contains(strings.ToLower(reply), "no such table") || strings.Contains(reply, "does not exist") {
			t.Errorf("the reply carries the database's text: %s", reply)
		}
	}
	// The cause is in the log.
	if !strings.Contains(e.logs.String(), "search_facts") {
		t.Errorf("the log lacks the cause: %s", e.logs.String())
	}
}

// A fault of the archive's own during a box's sync reaches the box as a
// 500 with the generic message (in the body and the Spanvault-Error
// header the box reads): the cause goes to the archive's log, not to the
// box, whose status page shows what it was told.
func TestIngestFaultIs500WithoutItsText(t *testing.T) {
	e := newEnv(t, nil)
	b := e.addBox("branch-1", synth.Config{})
	if _, err := e.a.Index.DB().ExecContext(context.Background(), `DROP TABLE commands`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := b.c.Pass(ctx, client.Options{Upload: true, Health: b.health})
	var re *client.RemoteError
	if !errors.As(err, &re) || re.Status != http.StatusInternalServerError || re.Msg != httperr.GenericMessage {
		t.Fatalf("sync over a broken index: %v, want 500 %q", err, httperr.GenericMessage)
	}
	if !strings.Contains(e.logs.String(), "commands") {
		t.Errorf("the archive's log lacks the cause: %s", e.logs.String())
	}
}
