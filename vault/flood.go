package vault

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/vault/audit"
)

// Dialogs that were never answered and involve no local party (SIP
// scanners, INVITE floods) are not worth a call record each: 45,000 of them
// once filled a vault and locked legitimate calls out. With aggregation on
// (the box knows its local numbers or networks), they become one record
// per hour: a count and a few sources, each source as a keyed hash (an
// address is personal data; the key is the box's subject salt). So do
// unanswered dialogs with a local party while their rate is anomalous
// (floodrate.go).

var bFloods = []byte("floods")

// FloodHour is one hour of aggregated dialogs.
type FloodHour struct {
	Hour    time.Time `json:"hour"`
	Dialogs uint64    `json:"dialogs"`
	Sources []string  `json:"sources"` // keyed hashes, at most maxFloodSources
	More    bool      `json:"more_sources,omitempty"`
}

const maxFloodSources = 32

// AlertFlood is raised once an hour while dialogs are aggregated.
const AlertFlood = "invite_flood"

// aggregatable reports whether a call is an unanswered dialog without a
// local party (with AggregateFloods), or one whose source, dialled number
// or kind is flooding (floodrate.go). Every unanswered dialog is counted.
func (v *Vault) aggregatable(c *record.Draft) bool {
	if !unanswered(c) {
		return false
	}
	flood := v.meter.anomalous(c)
	return flood || (v.opt.AggregateFloods && c.Direction == record.External)
}

// addFloods counts aggregated dialogs inside tx.
func (v *Vault) addFloods(tx *bolt.Tx, cs []*record.Draft, salt []byte, trail *audit.Batch) (newHours []time.Time, err error) {
	b, err := tx.CreateBucketIfNotExists(bFloods)
	if err != nil {
		return nil, err
	}
	byHour := map[time.Time]*FloodHour{}
	for _, c := range cs {
		h := c.Start.UTC().Truncate(time.Hour)
		fh := byHour[h]
		if fh == nil {
			fh = &FloodHour{Hour: h}
			if old := b.Get([]byte(h.Format(time.RFC3339))); old != nil {
				if err := json.Unmarshal(old, fh); err != nil {
					return nil, fmt.Errorf("vault: flood record %s: %w", h, err)
				}
			} else {
				newHours = append(newHours, h)
			}
			byHour[h] = fh
		}
		fh.Dialogs++
		m := hmac.New(sha256.New, salt)
		m.Write([]byte(c.CallerAddr.String()))
		src := hex.EncodeToString(m.Sum(nil)[:8])
		if !slices.Contains(fh.Sources, src) {
			if len(fh.Sources) < maxFloodSources {
				fh.Sources = append(fh.Sources, src)
			} else {
				fh.More = true
			}
		}
	}
	for h, fh := range byHour {
		enc, _ := json.Marshal(fh)
		if err := b.Put([]byte(h.Format(time.RFC3339)), enc); err != nil {
			return nil, err
		}
	}
	for _, h := range newHours {
		if _, err := trail.Add(audit.Entry{Time: v.opt.Now(), Action: "flood_aggregated", Actor: "capture",
			Detail: "unanswered dialogs (without a local party, or at a flood's rate), from " + h.Format("2006-01-02 15:00") + ", counted per hour instead of recorded one by one"}); err != nil {
			return nil, err
		}
	}
	return newHours, nil
}

// Floods lists the aggregated hours, oldest first.
func (v *Vault) Floods() ([]FloodHour, error) {
	var out []FloodHour
	err := v.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bFloods)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, val []byte) error {
			var fh FloodHour
			if err := json.Unmarshal(val, &fh); err != nil {
				return err
			}
			out = append(out, fh)
			return nil
		})
	})
	return out, err
}
