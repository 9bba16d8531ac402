package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Uploads in progress are kept per box: partial/<box>/<sum>. Two boxes
// sending bytes under the same address write two partials, so that one
// box can neither see (Partial) nor extend, poison or truncate another's
// upload. Uploads the archive makes itself (Append: tools, tests) use the
// box name archiveBox, which no box can have (box names start with a
// letter or digit).
const archiveBox = "_archive"

// keyedLocks is one mutex per key (a partial, or an object being
// sealed), held only while that key is worked on: a stalled upload holds
// its own partial and nothing else.
type keyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedLocks) get(key string) *keyLock {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.refs++
	return l
}

func (k *keyedLocks) put(key string, l *keyLock) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(k.m, key)
	}
}

// lock takes key's mutex and returns its unlock.
func (k *keyedLocks) lock(key string) func() {
	l := k.get(key)
	l.mu.Lock()
	return func() { l.mu.Unlock(); k.put(key, l) }
}

// tryLock takes key's mutex if nobody holds it.
func (k *keyedLocks) tryLock(key string) (func(), bool) {
	l := k.get(key)
	if !l.mu.TryLock() {
		k.put(key, l)
		return nil, false
	}
	return func() { l.mu.Unlock(); k.put(key, l) }, true
}

// boxDir is the directory of box's partials ("" is the archive's own).
func (d *Dir) boxDir(box string) (string, error) {
	if box == "" {
		box = archiveBox
	} else if box == "." || box == ".." || strings.ContainsAny(box, `/\`) || strings.HasPrefix(box, "_") || strings.HasPrefix(box, ".") {
		return "", fmt.Errorf("store: %q is not a box name", box)
	}
	return filepath.Join(d.root, "partial", box), nil
}

func partKey(box, sum string) string { return "p/" + box + "/" + sum }

// Partial implements Store: what box holds of its own upload of sum (a
// complete object, or another box's partial, is not reported).
func (d *Dir) Partial(_ context.Context, box, sum string) (Info, error) {
	dir, err := d.boxDir(box)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(filepath.Join(dir, sum))
	if errors.Is(err, os.ErrNotExist) {
		return Info{}, nil
	}
	if err != nil {
		return Info{}, fmt.Errorf("store: %w", err)
	}
	return Info{Offset: fi.Size()}, nil
}

// Partials implements Store: the bytes held of each of box's unfinished
// uploads, by address.
func (d *Dir) Partials(_ context.Context, box string) (map[string]int64, error) {
	dir, err := d.boxDir(box)
	if err != nil {
		return nil, err
	}
	es, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	out := make(map[string]int64, len(es))
	for _, e := range es {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			out[e.Name()] = fi.Size()
		}
	}
	return out, nil
}

// Sweep implements Store: partials that received no byte for ttl go. A
// partial being written (its lock held) is skipped, whatever its age.
// Flat files directly under partial/ are uploads of versions that did
// not key partials by box: nobody resumes them, they go the same way.
func (d *Dir) Sweep(_ context.Context, ttl time.Duration, now time.Time) (int, error) {
	root := filepath.Join(d.root, "partial")
	es, err := os.ReadDir(root)
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	n := 0
	sweep := func(box, path string) {
		unlock, ok := d.locks.tryLock(partKey(box, filepath.Base(path)))
		if !ok {
			return // being written: not idle
		}
		defer unlock()
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) < ttl {
			return
		}
		if os.Remove(path) == nil {
			n++
		}
	}
	for _, e := range es {
		if !e.IsDir() {
			sweep("", filepath.Join(root, e.Name()))
			continue
		}
		box := e.Name()
		if box == archiveBox {
			box = ""
		}
		files, err := os.ReadDir(filepath.Join(root, e.Name()))
		if err != nil {
			continue
		}
		for _, f := range files {
			sweep(box, filepath.Join(root, e.Name(), f.Name()))
		}
	}
	return n, nil
}
