package archive

import "sync"

// Update downloads are bounded: a box downloads at most
// maxBoxDownloads files at once (its root and its boot file), the
// archive serves at most maxDownloads at once; a download over either
// is refused with 503 and Retry-After (the box tries again at its next
// pass).
const (
	maxBoxDownloads = 2
	maxDownloads    = 64
)

// downloadLimiter counts the update downloads in progress, per box and
// in all.
type downloadLimiter struct {
	mu    sync.Mutex
	total int
	boxes map[string]int
}

// acquire takes a download slot for box; false when the box or the
// archive is at its cap. A true acquire is released with release.
func (l *downloadLimiter) acquire(box string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= maxDownloads || l.boxes[box] >= maxBoxDownloads {
		return false
	}
	if l.boxes == nil {
		l.boxes = map[string]int{}
	}
	l.total++
	l.boxes[box]++
	return true
}

func (l *downloadLimiter) release(box string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.boxes[box]--; l.boxes[box] <= 0 {
		delete(l.boxes, box)
	}
}
