package vault

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
)

// checkTree walks the page tree of a bbolt file before bbolt maps it:
// the file is as long as its newest meta page says (bbolt maps that many
// pages, and reading past the end of a truncated file is SIGBUS, which no
// recover catches); every page a bucket refers to lies below the
// high-water mark, says it
// is the page it is, is a branch or a leaf, is referred to once (a cycle
// would make bbolt loop until memory runs out) and keeps its keys and
// values inside itself; the freelist names only pages that exist. bbolt
// trusts all of this and faults, asserts or loops on a file that breaks
// it; this walk turns any such damage into a *DamagedError naming the
// page. The layout is bbolt's on-disk format (internal/common: page,
// meta, branchPageElement, leafPageElement, InBucket).
func checkTree(path string) error {
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return nil // bbolt reports it, or initialises an empty file
	}
	m, ok := newestMeta(data)
	if !ok {
		return nil // bbolt says "invalid database"
	}
	w := &pageWalker{path: path, data: data, ps: uint64(m.pageSize), hwm: m.hwm, seen: map[uint64]bool{}}
	if w.ps < 512 || w.ps > 1<<16 {
		return w.bad(0, fmt.Sprintf("page size %d", w.ps))
	}
	if uint64(len(data)) < w.hwm*w.ps {
		return &DamagedError{Path: path, Detail: fmt.Sprintf("truncated: its meta page counts %d pages of %d bytes, the file has %d bytes", w.hwm, w.ps, len(data)), page: true}
	}
	if err := w.page(m.root, 0, false); err != nil {
		return err
	}
	return w.freelist(m.freelist)
}

type metaInfo struct {
	pageSize                  uint32
	root, freelist, hwm, txid uint64
}

// newestMeta returns the valid meta page (magic and checksum) with the
// highest transaction ID, as bbolt picks it.
func newestMeta(data []byte) (metaInfo, bool) {
	var best metaInfo
	found := false
	offs := []int{0}
	if len(data) >= 16+64 {
		offs = append(offs, int(binary.LittleEndian.Uint32(data[16+8:])))
	}
	for _, off := range append(offs, 4096) {
		if off < 0 || off+16+64 > len(data) {
			continue
		}
		m := data[off+16 : off+16+64]
		if binary.LittleEndian.Uint32(m[0:4]) != 0xED0CDAED {
			continue
		}
		h := fnv.New64a()
		h.Write(m[:56])
		if h.Sum64() != binary.LittleEndian.Uint64(m[56:64]) {
			continue
		}
		mi := metaInfo{
			pageSize: binary.LittleEndian.Uint32(m[8:12]),
			root:     binary.LittleEndian.Uint64(m[16:24]),
			freelist: binary.LittleEndian.Uint64(m[32:40]),
			hwm:      binary.LittleEndian.Uint64(m[40:48]),
			txid:     binary.LittleEndian.Uint64(m[48:56]),
		}
		if !found || mi.txid > best.txid {
			best, found = mi, true
		}
	}
	return best, found
}

type pageWalker struct {
	path    string
	data    []byte
	ps, hwm uint64
	seen    map[uint64]bool
}

const (
	branchPage   = 0x01
	leafPage     = 0x02
	freelistPage = 0x10
	bucketLeaf   = 0x01
	pageHeader   = 16
	elementSize  = 16
	maxTreeDepth = 64
)

func (w *pageWalker) bad(id uint64, what string) error {
	return &DamagedError{Path: w.path, Detail: fmt.Sprintf("page %d: %s", id, what), page: true}
}

// span returns the bytes of page id and its overflow pages.
func (w *pageWalker) span(id uint64) ([]byte, error) {
	if id < 2 || id >= w.hwm {
		return nil, w.bad(id, fmt.Sprintf("referred to, but outside the file's %d pages", w.hwm))
	}
	start := id * w.ps
	if start+pageHeader > uint64(len(w.data)) {
		return nil, w.bad(id, "beyond the end of the file")
	}
	if got := binary.LittleEndian.Uint64(w.data[start:]); got != id {
		return nil, w.bad(id, fmt.Sprintf("says it is page %d", got))
	}
	over := uint64(binary.LittleEndian.Uint32(w.data[start+12:]))
	if id+over >= w.hwm || start+(1+over)*w.ps > uint64(len(w.data)) {
		return nil, w.bad(id, fmt.Sprintf("%d overflow pages run past the end", over))
	}
	for i := id; i <= id+over; i++ {
		if w.seen[i] {
			return nil, w.bad(i, "referred to twice (a cycle or a shared page)")
		}
		w.seen[i] = true
	}
	return w.data[start : start+(1+over)*w.ps], nil
}

func (w *pageWalker) page(id uint64, depth int, _ bool) error {
	p, err := w.span(id)
	if err != nil {
		return err
	}
	return w.node(p, id, depth)
}

// node checks one branch or leaf page (p may be an inline bucket's page,
// id 0, inside its parent's value).
func (w *pageWalker) node(p []byte, id uint64, depth int) error {
	if depth > maxTreeDepth {
		return w.bad(id, "tree deeper than any real index")
	}
	if len(p) < pageHeader {
		return w.bad(id, "shorter than a page header")
	}
	flags := binary.LittleEndian.Uint16(p[8:])
	count := int(binary.LittleEndian.Uint16(p[10:]))
	if pageHeader+count*elementSize > len(p) {
		return w.bad(id, fmt.Sprintf("%d elements do not fit", count))
	}
	within := func(e, pos, n uint64) bool { return e+pos+n <= uint64(len(p)) && e+pos >= e }
	switch flags {
	case branchPage:
		if count == 0 {
			return w.bad(id, "empty branch page")
		}
		for i := 0; i < count; i++ {
			e := uint64(pageHeader + i*elementSize)
			pos := uint64(binary.LittleEndian.Uint32(p[e:]))
			ksize := uint64(binary.LittleEndian.Uint32(p[e+4:]))
			if !within(e, pos, ksize) {
				return w.bad(id, fmt.Sprintf("branch key %d outside the page", i))
			}
			if err := w.page(binary.LittleEndian.Uint64(p[e+8:]), depth+1, false); err != nil {
				return err
			}
		}
	case leafPage:
		for i := 0; i < count; i++ {
			e := uint64(pageHeader + i*elementSize)
			lf := binary.LittleEndian.Uint32(p[e:])
			pos := uint64(binary.LittleEndian.Uint32(p[e+4:]))
			ksize := uint64(binary.LittleEndian.Uint32(p[e+8:]))
			vsize := uint64(binary.LittleEndian.Uint32(p[e+12:]))
			if !within(e, pos, ksize+vsize) {
				return w.bad(id, fmt.Sprintf("leaf element %d outside the page", i))
			}
			if lf&bucketLeaf == 0 {
				continue
			}
			val := p[e+pos+ksize : e+pos+ksize+vsize]
			if len(val) < 16 {
				return w.bad(id, fmt.Sprintf("bucket header %d too short", i))
			}
			root := binary.LittleEndian.Uint64(val[0:8])
			var err error
			if root == 0 {
				err = w.node(val[16:], 0, depth+1) // inline bucket
			} else {
				err = w.page(root, depth+1, false)
			}
			if err != nil {
				return err
			}
		}
	default:
		return w.bad(id, fmt.Sprintf("flags 0x%x where a branch or leaf page belongs", flags))
	}
	return nil
}

// freelist checks that the freelist page names pages below the high-water
// mark that no bucket uses.
func (w *pageWalker) freelist(id uint64) error {
	if id == 0xFFFFFFFFFFFFFFFF {
		return nil // not persisted (NoFreelistSync)
	}
	if id < 2 || id >= w.hwm || (id+1)*w.ps > uint64(len(w.data)) {
		return w.bad(id, "freelist page outside the file")
	}
	start := id * w.ps
	p := w.data[start:]
	if binary.LittleEndian.Uint16(p[8:]) != freelistPage {
		return w.bad(id, "freelist page is not a freelist")
	}
	over := uint64(binary.LittleEndian.Uint32(p[12:]))
	if id+over >= w.hwm || start+(1+over)*w.ps > uint64(len(w.data)) {
		return w.bad(id, "freelist overflow runs past the end")
	}
	p = p[:(1+over)*w.ps]
	n := uint64(binary.LittleEndian.Uint16(p[10:]))
	ids := p[pageHeader:]
	if n == 0xFFFF {
		if len(ids) < 8 {
			return w.bad(id, "freelist count missing")
		}
		n = binary.LittleEndian.Uint64(ids)
		ids = ids[8:]
	}
	if n > uint64(len(ids))/8 {
		return w.bad(id, fmt.Sprintf("freelist of %d pages does not fit", n))
	}
	for i := uint64(0); i < n; i++ {
		f := binary.LittleEndian.Uint64(ids[i*8:])
		if f < 2 || f >= w.hwm {
			return w.bad(id, fmt.Sprintf("freelist names page %d, outside the file", f))
		}
		if w.seen[f] {
			return w.bad(id, fmt.Sprintf("freelist names page %d, which is in use", f))
		}
	}
	return nil
}
