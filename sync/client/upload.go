package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	gosync "sync"

	"golang.org/x/time/rate"

	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
)

// Records per batch, and the bytes of sealed metadata per batch.
const (
	batchRecords = 500
	batchBytes   = 4 << 20
	parallel     = 4 // objects in flight at once
)

// upload sends the pending recordings (objects first, then their records)
// and tombstones. A record is acknowledged in the vault only when the
// archive's ack for it says OK.
func (c *Client) upload(ctx context.Context) error {
	es, err := c.v.PendingSync(0)
	if err != nil {
		return err
	}
	c.mu.Lock()
	all, one := c.pullAll, c.pullOne
	c.mu.Unlock()
	_ = all
	var (
		batch []wire.Record
		size  int
		errs  []error
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := c.sendRecords(ctx, batch)
		batch, size = batch[:0], 0
		return err
	}
	// Objects go up to `parallel` at a time (the archive's fsyncs overlap;
	// the rate limiter is shared, so the cap holds for the sum); records
	// follow in batches once their objects are durable, oldest first.
	for start := 0; start < len(es); start += batchRecords {
		chunk := es[start:min(start+batchRecords, len(es))]
		recs := make([]wire.Record, len(chunk))
		ok := make([]bool, len(chunk))
		var fatal error
		var mu gosync.Mutex
		sem := make(chan struct{}, parallel)
		var wg gosync.WaitGroup
		for i, e := range chunk {
			rec, err := c.recordOf(e)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			recs[i] = rec
			if rec.Kind != wire.KindRecording {
				ok[i] = true
				continue
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				err := c.uploadObject(ctx, e)
				mu.Lock()
				defer mu.Unlock()
				var re *RemoteError
				switch {
				case err == nil:
					ok[i] = true
				case errors.As(err, &re) && re.Status != http.StatusInsufficientStorage:
					errs = append(errs, fmt.Errorf("%s: %w", e.ID, err))
				default:
					// A full archive or connection trouble: stop here, the
					// next pass resumes.
					if fatal == nil {
						fatal = err
					}
				}
			}()
		}
		wg.Wait()
		for i := range chunk {
			if !ok[i] {
				continue
			}
			batch = append(batch, recs[i])
			size += len(recs[i].Entry.Raw()) + len(recs[i].Sealed) + len(recs[i].Subject)
			if size >= batchBytes {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if fatal != nil {
			return fatal
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := c.uploadTombstones(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	c.pullAll = false
	for id := range one {
		delete(c.pullOne, id)
	}
	c.mu.Unlock()
	return errors.Join(errs...)
}

func (c *Client) recordOf(e *vault.Entry) (wire.Record, error) {
	entry, err := wire.ClearEntry(e)
	if err != nil {
		return wire.Record{}, err
	}
	meta, subject, err := c.v.Sealed(e.ID)
	if err != nil {
		return wire.Record{}, err
	}
	r := wire.Record{ID: e.ID, Kind: wire.KindCDR, Start: e.Start, Class: e.Class, Expiry: e.Expiry, Hold: e.Held(),
		Recorded: e.Recorded, Entry: entry, Sealed: meta, Subject: subject}
	if e.Recorded && e.State != vault.StateCDR {
		if !wire.ValidHash(e.SHA256) || e.Size <= 0 {
			return r, fmt.Errorf("sync: %s: no hash or size in the index (run spanvault fsck)", e.ID)
		}
		r.Kind, r.SHA256, r.Size = wire.KindRecording, e.SHA256, e.Size
	}
	return r, nil
}

func (c *Client) sendRecords(ctx context.Context, batch []wire.Record) error {
	var rep wire.RecordsReply
	if err := c.post(ctx, wire.PathRecords, wire.Records{Records: batch}, &rep); err != nil {
		return err
	}
	if len(rep.Acks) != len(batch) {
		return fmt.Errorf("sync: archive answered %d acks for %d records", len(rep.Acks), len(batch))
	}
	var ok []string
	var errs []error
	for i, a := range rep.Acks {
		if a.ID != batch[i].ID {
			return fmt.Errorf("sync: ack %d names %s, sent %s", i, a.ID, batch[i].ID)
		}
		if a.OK {
			ok = append(ok, a.ID)
		} else {
			errs = append(errs, fmt.Errorf("sync: archive did not take %s: %s", a.ID, a.Error))
		}
	}
	if c.beforeAck != nil {
		if err := c.beforeAck(); err != nil {
			return err
		}
	}
	if err := c.v.AcknowledgeMany(ok, c.cfg.Now()); err != nil {
		return err
	}
	c.mu.Lock()
	c.state.Uploaded += len(ok)
	c.mu.Unlock()
	return errors.Join(errs...)
}

// uploadObject sends a sealed file from the offset the archive holds.
// The first PATCH goes from offset 0 without asking first (no HEAD: one
// request per recording, not two) and waits for the archive's 100
// Continue before sending the body (Expect: 100-continue): an archive
// that holds some of it (409, with its offset) or all of it (201,
// complete) answers before a byte is sent, and the next attempt asks
// with HEAD and resumes from there. An object whose upload did not end
// well in this client (a cut, a refusal) starts with HEAD next time.
func (c *Client) uploadObject(ctx context.Context, e *vault.Entry) error {
	path, err := c.v.RecordingPath(e.ID)
	if err != nil {
		return err
	}
	c.mu.Lock()
	ask := c.resume[e.SHA256]
	if c.resume == nil {
		c.resume = map[string]bool{}
	}
	c.resume[e.SHA256] = true // until the upload completes
	c.mu.Unlock()
	for attempt := 0; attempt < 3; attempt++ {
		var off int64
		guess := attempt == 0 && !ask
		if !guess {
			resp, err := c.do(ctx, http.MethodHead, wire.PathObjects+e.SHA256, nil, nil)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.Header.Get(wire.HeaderComplete) == "1" {
				c.uploaded(e.SHA256, 0)
				return nil
			}
			off, err = wire.ParseOffset(resp.Header.Get(wire.HeaderOffset))
			if err != nil || off > e.Size {
				return fmt.Errorf("sync: %s: archive reports offset %q", e.ID, resp.Header.Get(wire.HeaderOffset))
			}
			if off > 0 {
				c.mu.Lock()
				c.state.ResumedBytes += off
				c.mu.Unlock()
			}
		}
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("sync: %s: %w", e.ID, err)
		}
		hdr := http.Header{
			wire.HeaderOffset: {strconv.FormatInt(off, 10)},
			wire.HeaderLength: {strconv.FormatInt(e.Size, 10)},
			"Content-Type":    {"application/offset+octet-stream"},
		}
		if guess {
			hdr.Set("Expect", "100-continue")
		}
		if e.Class != "" && !e.Start.IsZero() {
			// The archive writes the object with its class's lock at
			// once (sync/doc.go, message 4).
			hdr.Set(wire.HeaderMetadata, wire.UploadMeta{Class: e.Class, Start: e.Start}.Header())
		}
		var sent *countingReader // the body of the request that got the answer
		resp, err := c.do(ctx, http.MethodPatch, wire.PathObjects+e.SHA256, hdr, func() io.Reader {
			sent = &countingReader{r: io.NewSectionReader(f, off, e.Size-off)}
			return c.limited(ctx, sent)
		})
		f.Close()
		if err != nil {
			var re *RemoteError
			if errors.As(err, &re) && re.Status == http.StatusConflict {
				continue // not the archive's offset (it holds some, or another attempt's bytes landed): ask
			}
			return err
		}
		resp.Body.Close()
		if resp.Header.Get(wire.HeaderComplete) == "1" {
			c.uploaded(e.SHA256, sent.n)
			return nil
		}
		c.mu.Lock()
		c.state.UploadedBytes += sent.n
		c.mu.Unlock()
	}
	return fmt.Errorf("sync: %s: upload did not complete", e.ID)
}

// uploaded notes a completed upload of sum and the bytes its last
// request sent.
func (c *Client) uploaded(sum string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.resume, sum)
	c.state.UploadedBytes += n
}

// countingReader counts the bytes read through it (what a PATCH sent:
// none when the archive answered before asking for the body).
type countingReader struct {
	r *io.SectionReader
	n int64
}

func (cr *countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.n += int64(n)
	return n, err
}

// Size is what is left to send (the request's Content-Length).
func (cr *countingReader) Size() int64 { return cr.r.Size() - cr.n }

func (c *Client) uploadTombstones(ctx context.Context) error {
	ts, err := c.v.PendingTombstones()
	if err != nil {
		return err
	}
	for len(ts) > 0 {
		n := min(len(ts), batchRecords)
		var batch []wire.Record
		for _, t := range ts[:n] {
			entry, err := wire.TombstoneEntry(&t)
			if err != nil {
				return err
			}
			batch = append(batch, wire.Record{ID: t.ID, Kind: wire.KindTombstone, Tombstone: t.KindOf(), Start: t.Start, Class: t.Class, DeletedAt: t.DeletedAt, Entry: entry, Subject: t.Subject})
		}
		var rep wire.RecordsReply
		if err := c.post(ctx, wire.PathRecords, wire.Records{Records: batch}, &rep); err != nil {
			return err
		}
		var ok []string
		for _, a := range rep.Acks {
			if a.OK {
				ok = append(ok, a.ID)
			}
		}
		if err := c.v.AcknowledgeTombstones(ok, c.cfg.Now()); err != nil {
			return err
		}
		ts = ts[n:]
	}
	return nil
}

// limited wraps r in the bandwidth cap.
func (c *Client) limited(ctx context.Context, r io.Reader) io.Reader {
	if c.limiter.Limit() == rate.Inf {
		return r
	}
	return &rateReader{ctx: ctx, r: r, l: c}
}

type rateReader struct {
	ctx context.Context
	r   io.Reader
	l   *Client
}

// Size is the wrapped reader's size, when it has one.
func (rr *rateReader) Size() int64 {
	if s, ok := rr.r.(interface{ Size() int64 }); ok {
		return s.Size()
	}
	return -1
}

func (rr *rateReader) Read(p []byte) (int, error) {
	if b := rr.l.limiter.Burst(); len(p) > b {
		p = p[:b]
	}
	n, err := rr.r.Read(p)
	if n > 0 {
		if werr := rr.l.limiter.WaitN(rr.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}
