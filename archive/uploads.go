package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spanvault/spanvault/internal/units"
)

// Size is a byte count in the configuration: "2GiB", "512MB", "1048576".
type Size int64

// UnmarshalText parses SI (KB, MB, GB, TB) and IEC (KiB, MiB, GiB, TiB)
// units, or plain bytes.
func (s *Size) UnmarshalText(b []byte) error {
	str := strings.TrimSpace(string(b))
	for _, u := range []struct {
		s string
		m float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}} {
		if strings.HasSuffix(str, u.s) {
			n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(str, u.s)), 64)
			if err != nil || n < 0 || n*u.m > 1<<62 {
				return fmt.Errorf("bad size %q", str)
			}
			*s = Size(n * u.m)
			return nil
		}
	}
	n, err := strconv.ParseInt(str, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("bad size %q", str)
	}
	*s = Size(n)
	return nil
}

// MarshalText writes the size in bytes.
func (s Size) MarshalText() ([]byte, error) { return []byte(strconv.FormatInt(int64(s), 10)), nil }

// ingestDefaults fills the ingest limits an older configuration file
// does not set.
func (c *Config) ingestDefaults() {
	if c.PartialTTL == 0 {
		c.PartialTTL = units.Duration(24 * time.Hour)
	}
	if c.MaxRecording == 0 {
		c.MaxRecording = 2 << 30
	}
	if c.PartialQuota == 0 {
		c.PartialQuota = 8 << 30
	}
	if c.UploadStall == 0 {
		c.UploadStall = units.Duration(30 * time.Second)
	}
	if c.UploadMinRate == 0 {
		c.UploadMinRate = 1 << 10
	}
}

func (c *Config) validateIngest() []error {
	var errs []error
	if c.PartialTTL < units.Duration(time.Hour) {
		errs = append(errs, fmt.Errorf("partial_ttl: %s is shorter than an hour", time.Duration(c.PartialTTL)))
	}
	if c.MaxRecording < 1<<10 {
		errs = append(errs, fmt.Errorf("max_recording: %d bytes is less than 1KiB", c.MaxRecording))
	}
	if c.PartialQuota < c.MaxRecording {
		errs = append(errs, fmt.Errorf("partial_quota: %d bytes is less than max_recording (%d): no recording could be uploaded", c.PartialQuota, c.MaxRecording))
	}
	if c.UploadStall < units.Duration(time.Millisecond) {
		errs = append(errs, errors.New("upload_stall: must be positive"))
	}
	if c.UploadMinRate < 1 {
		errs = append(errs, errors.New("upload_min_rate: must be at least 1 byte per second"))
	}
	return errs
}

// SweepPartials removes the partial uploads that received no byte for
// PartialTTL (on the archive's clock) and says how many went.
func (a *Archive) SweepPartials(ctx context.Context) (int, error) {
	ttl := time.Duration(a.Config.PartialTTL)
	n, err := a.Store.Sweep(ctx, ttl, a.Now())
	if err != nil {
		return n, fmt.Errorf("archive: partial sweep: %w", err)
	}
	if n > 0 {
		a.Event(ctx, "partials_removed", "sweep", "", fmt.Sprintf("%d partial uploads idle for over %s", n, ttl), false)
	}
	return n, nil
}

// uploadTracker holds the uploads in progress per box, for the partial
// quota.
type uploadTracker struct {
	mu    sync.Mutex
	boxes map[string]map[string]*pendingUpload // box -> sum -> upload
}

type pendingUpload struct {
	length int64 // declared
	refs   int   // requests for it (a retry may overlap its predecessor)
}

// errQuota: the box's unfinished uploads would exceed the quota.
var errQuota = errors.New("partial upload quota exceeded")

// reserveUpload admits an upload of sum (declared length) for box if the
// box's unfinished uploads stay within the partial quota: the declared
// lengths of its uploads in flight, the bytes held of its other
// partials, and this one's length. It returns the release to call when
// the request ends.
func (a *Archive) reserveUpload(ctx context.Context, box, sum string, length int64) (func(), error) {
	t := &a.uploads
	t.mu.Lock()
	defer t.mu.Unlock()
	held, err := a.Store.Partials(ctx, box)
	if err != nil {
		return nil, err
	}
	ups := t.boxes[box]
	used := length
	for s, n := range held {
		if _, busy := ups[s]; !busy && s != sum {
			used += n
		}
	}
	for s, u := range ups {
		if s != sum {
			used += u.length
		}
	}
	if quota := int64(a.Config.PartialQuota); used > quota {
		return nil, fmt.Errorf("%w: %s would hold %d bytes of unfinished uploads, its quota is %d", errQuota, box, used, quota)
	}
	if t.boxes == nil {
		t.boxes = map[string]map[string]*pendingUpload{}
	}
	if ups == nil {
		ups = map[string]*pendingUpload{}
		t.boxes[box] = ups
	}
	u := ups[sum]
	if u == nil {
		u = &pendingUpload{}
		ups[sum] = u
	}
	u.length = max(u.length, length)
	u.refs++
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if u.refs--; u.refs == 0 {
			delete(ups, sum)
			if len(ups) == 0 {
				delete(t.boxes, box)
			}
		}
	}, nil
}

// stallReader reads a request's body under a read deadline that moves
// on only as bytes arrive: every window must bring at least need bytes,
// or the connection's read fails (os.ErrDeadlineExceeded) and the
// handler ends (an upload keeping what arrived).
type stallReader struct {
	r      io.ReadCloser
	rc     *http.ResponseController
	window time.Duration
	need   int64
	got    int64
}

func (a *Archive) stallReader(w http.ResponseWriter, r io.ReadCloser) *stallReader {
	window := time.Duration(a.Config.UploadStall)
	need := max(int64(float64(a.Config.UploadMinRate)*window.Seconds()), 1)
	s := &stallReader{r: r, rc: http.NewResponseController(w), window: window, need: need}
	if err := s.rc.SetReadDeadline(time.Now().Add(window)); err != nil {
		a.Logger.Warn("upload: no stall detection on this connection", "err", err)
	}
	return s
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if s.got += int64(n); s.got >= s.need {
		s.got = 0
		if derr := s.rc.SetReadDeadline(time.Now().Add(s.window)); derr != nil && err == nil && !errors.Is(derr, http.ErrNotSupported) {
			err = derr
		}
	}
	return n, err
}

func (s *stallReader) Close() error { return s.r.Close() }

// readDeadlines puts every request's body but an upload's under the
// stall deadline (objectPatch sets an upload's itself); headers have the
// server's ReadHeaderTimeout.
func (a *Archive) readDeadlines(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPatch {
			r.Body = a.stallReader(w, r.Body)
		}
		h.ServeHTTP(w, r)
	})
}

// stalled reports whether err is the stall deadline's.
func stalled(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
