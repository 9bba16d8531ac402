package access

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/smtp"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
)

// notifier forwards alerts to the data-protection officer: a JSON POST to
// the webhook and a mail through the SMTP relay, off the request path,
// retried a few times; a queue that overflows drops the newest with a log
// line (the alert itself is in the audit trail either way).
type notifier struct {
	cfg archive.AccessConfig
	log *slog.Logger
	q   chan index.Event
}

func newNotifier(cfg archive.AccessConfig, log *slog.Logger) *notifier {
	n := &notifier{cfg: cfg, log: log, q: make(chan index.Event, 1024)}
	if cfg.AlertWebhook != "" || cfg.AlertEmail != "" {
		go n.run()
	}
	return n
}

func (n *notifier) send(e index.Event) {
	if n.cfg.AlertWebhook == "" && n.cfg.AlertEmail == "" {
		return
	}
	select {
	case n.q <- e:
	default:
		n.log.Error("alert queue full: alert kept in the audit trail only", "kind", e.Kind, "id", e.ID)
	}
}

// Alert is the webhook's body.
type Alert struct {
	ID        int64     `json:"id"` // the audit trail entry
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Actor     string    `json:"actor,omitempty"`
	Appliance string    `json:"appliance,omitempty"`
	Detail    string    `json:"detail"`
}

func (n *notifier) run() {
	client := &http.Client{Timeout: 10 * time.Second}
	for e := range n.q {
		a := Alert{ID: e.ID, Time: e.Time, Kind: e.Kind, Actor: e.Actor, Appliance: e.Appliance, Detail: e.Detail}
		for try := 0; try < 3; try++ {
			if err := n.deliver(client, a); err != nil {
				n.log.Warn("alert delivery", "kind", a.Kind, "try", try+1, "err", err)
				time.Sleep(time.Duration(try+1) * time.Second)
				continue
			}
			break
		}
	}
}

func (n *notifier) deliver(client *http.Client, a Alert) error {
	if n.cfg.AlertWebhook != "" {
		b, _ := json.Marshal(a)
		resp, err := client.Post(n.cfg.AlertWebhook, "application/json", bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("webhook: %s", resp.Status)
		}
	}
	if n.cfg.AlertEmail != "" {
		var msg strings.Builder
		fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: [spanvault] %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", n.cfg.SMTPFrom, n.cfg.AlertEmail, a.Kind)
		fmt.Fprintf(&msg, "Alert %d at %s\r\nKind: %s\r\nUser: %s\r\nBranch: %s\r\n\r\n%s\r\n", a.ID, a.Time.Format(time.RFC3339), a.Kind, a.Actor, a.Appliance, a.Detail)
		if err := smtp.SendMail(n.cfg.SMTP, nil, n.cfg.SMTPFrom, []string{n.cfg.AlertEmail}, []byte(msg.String())); err != nil {
			return fmt.Errorf("smtp: %w", err)
		}
	}
	return nil
}

// accessed notes an access that the insider limits do not count (a
// view, a link minted, digits revealed): a row of accesses and its entry
// in the chained trail, in one transaction. Audio is admitted, counted
// and noted the same way by admit before it is served.
func (s *Service) accessed(ctx context.Context, who, action, app, rec string) {
	if _, err := s.A.Index.AddAccess(ctx, s.now(), who, action, app, rec); err != nil {
		s.A.Logger.Error("access log", "err", err)
	}
}
