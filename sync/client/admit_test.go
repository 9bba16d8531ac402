package client_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/sync/wire"
)

// meetingStore lets each Stat wait (up to a bound) until want Stats are
// in flight at once: it records whether they ever were.
type meetingStore struct {
	store.Store
	want int
	mu   sync.Mutex
	in   int
	met  bool
	all  chan struct{}
}

func (m *meetingStore) Stat(ctx context.Context, sum string) (store.Info, error) {
	m.mu.Lock()
	m.in++
	if m.in == m.want && !m.met {
		m.met = true
		close(m.all)
	}
	m.mu.Unlock()
	select {
	case <-m.all:
	case <-time.After(5 * time.Second): // admitted one at a time: never met
	}
	m.mu.Lock()
	m.in--
	m.mu.Unlock()
	return m.Store.Stat(ctx, sum)
}

// TestRecordsAdmittedTogether (issue 26): the records handler admits the
// recordings of one batch at once (each asks the index and the store:
// on S3 a round trip to the gateway that make cluster's profile found
// paid once per recording in turn), and each still gets its own answer:
// the records of different objects are in the store at the same time, a
// second record of an object waits for the first, and every ack says
// what admitRecording alone says.
func TestRecordsAdmittedTogether(t *testing.T) {
	e := newEnv(t)
	b := e.connect(t, e.box)
	start := e.clock.Now().Add(-time.Hour)
	var recs []wire.Record
	for n := 0; n < 3; n++ {
		data, sum := e.sealed(t, 1000+n)
		b.uploadWith(data, sum, nil)
		recs = append(recs, wire.Record{ID: "admit" + string(rune('a'+n)), Kind: wire.KindRecording, Start: start, Class: "default", Recorded: true,
			Size: int64(len(data)), SHA256: sum, Entry: wire.RawEntry(wire.KindRecording, []byte(`{}`))})
	}
	again := recs[0]
	again.ID = "admitz" // a second record of the first object
	short := recs[1]
	short.ID, short.Size = "admitshort", short.Size+1 // not the object's size
	recs = append(recs, again, short)

	real := e.arch.Store
	m := &meetingStore{Store: real, want: 3, all: make(chan struct{})}
	e.arch.Store = m // between requests: no handler runs now
	acks := b.records(recs...)
	e.arch.Store = real
	for i, a := range acks {
		if ok := i != 4; a.OK != ok {
			t.Fatalf("ack %d (%s): %+v", i, a.ID, a)
		}
	}
	if !m.met {
		t.Error("the records of three objects were not in the store at once: admitted one after another")
	}
	rows, err := e.arch.Index.Records(context.Background(), index.Query{Appliance: e.box, Kind: wire.KindRecording})
	if err != nil || len(rows) != 4 {
		t.Fatalf("%d rows %v, want 4", len(rows), err)
	}
}
