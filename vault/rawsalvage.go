package vault

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"os"
	"sort"
)

// rawIndex is what can still be read of a damaged bbolt file, read
// without bbolt (which trusts the page tree and asserts, faults or loops
// on a damaged one) and without the consistency check that rejected the
// file. The file is only read.
//
// The records are gathered in four passes, each adding only keys the
// earlier ones did not find:
//
//  1. the page tree from each meta page whose checksum holds, newest
//     transaction first (the index as bbolt would have read it);
//  2. the page tree from a meta page whose magic or checksum is damaged,
//     if its root still leads to pages that say who they are;
//  3. bucket trees named by leaf pages no tree reached (older copies of
//     the root bucket, which bbolt writes anew at every commit);
//  4. leaf pages no tree reached at all, their records assigned to a
//     bucket by their shape (an entry or a tombstone names its own ID).
//
// A page that does not say it is the page it is (zeroed, overwritten,
// past the end of a truncated file) is skipped, not followed. Every
// record is checked for the shape its bucket holds before it is kept.
type rawIndex struct {
	data    []byte
	ps      uint64
	n       uint64 // pages in the file
	visited map[uint64]bool
	recs    map[string]map[string][]byte // bucket -> key -> value
	pass    map[string]map[string]int    // the pass a record came from
}

// salvageBuckets are the buckets fsck copies from a damaged index (of
// meta, only the subject salt: subject holds' tags depend on it).
var salvageBuckets = [][]byte{bEntries, bSealed, bSubjects, bTombstones, bHolds, bMeta}

func readRawIndex(path string) (*rawIndex, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &rawIndex{data: data, ps: 4096, visited: map[uint64]bool{}, recs: map[string]map[string][]byte{}, pass: map[string]map[string]int{}}
	type meta struct {
		root, txid uint64
		valid      bool
	}
	var metas []meta
	if len(data) >= pageHeader+12 {
		if ps := uint64(binary.LittleEndian.Uint32(data[pageHeader+8:])); ps >= 512 && ps <= 1<<16 && ps&(ps-1) == 0 {
			r.ps = ps // meta page 1 lies one page in
		}
	}
	for _, off := range []uint64{0, r.ps} {
		if off+pageHeader+64 > uint64(len(data)) {
			continue
		}
		m := data[off+pageHeader : off+pageHeader+64]
		h := fnv.New64a()
		h.Write(m[:56])
		valid := binary.LittleEndian.Uint32(m[0:4]) == 0xED0CDAED && h.Sum64() == binary.LittleEndian.Uint64(m[56:64])
		if ps := uint64(binary.LittleEndian.Uint32(m[8:12])); ps >= 512 && ps <= 1<<16 && ps&(ps-1) == 0 && valid {
			r.ps = ps
		}
		metas = append(metas, meta{root: binary.LittleEndian.Uint64(m[16:24]), txid: binary.LittleEndian.Uint64(m[48:56]), valid: valid})
	}
	r.n = uint64(len(data)) / r.ps
	sort.SliceStable(metas, func(i, j int) bool {
		if metas[i].valid != metas[j].valid {
			return metas[i].valid
		}
		return metas[i].txid > metas[j].txid
	})
	for _, m := range metas {
		pass := 1
		if !m.valid {
			pass = 2
		}
		r.walkRoot(m.root, pass)
	}
	// Leaf pages no tree reached: older copies of the root bucket's leaf
	// first (they name bucket trees), then plain records.
	var orphans []uint64
	for id := uint64(2); id < r.n; id++ {
		if !r.visited[id] {
			if p := r.page(id); p != nil && binary.LittleEndian.Uint16(p[8:]) == leafPage {
				orphans = append(orphans, id)
			}
		}
	}
	for _, id := range orphans {
		if r.visited[id] {
			continue
		}
		r.leaf(r.page(id), func(flags uint32, k, v []byte) {
			if flags&bucketLeaf != 0 {
				r.walkBucket(string(k), v, 3)
			}
		})
	}
	for _, id := range orphans {
		if r.visited[id] {
			continue
		}
		r.visited[id] = true
		r.leaf(r.page(id), func(flags uint32, k, v []byte) {
			if flags&bucketLeaf == 0 {
				r.keep(shapeOf(k, v), k, v, 4)
			}
		})
	}
	return r, nil
}

// page returns page id with its overflow pages if it says it is page id
// and lies inside the file, else nil.
func (r *rawIndex) page(id uint64) []byte {
	if id < 2 || id >= r.n {
		return nil
	}
	start := id * r.ps
	if binary.LittleEndian.Uint64(r.data[start:]) != id {
		return nil
	}
	over := uint64(binary.LittleEndian.Uint32(r.data[start+12:]))
	if over >= r.n || id+over >= r.n {
		return nil
	}
	return r.data[start : start+(1+over)*r.ps]
}

// leaf calls fn for every element of a leaf page that lies inside it.
func (r *rawIndex) leaf(p []byte, fn func(flags uint32, k, v []byte)) {
	if len(p) < pageHeader || binary.LittleEndian.Uint16(p[8:]) != leafPage {
		return
	}
	count := int(binary.LittleEndian.Uint16(p[10:]))
	for i := 0; i < count && pageHeader+(i+1)*elementSize <= len(p); i++ {
		e := uint64(pageHeader + i*elementSize)
		flags := binary.LittleEndian.Uint32(p[e:])
		pos := uint64(binary.LittleEndian.Uint32(p[e+4:]))
		ksize := uint64(binary.LittleEndian.Uint32(p[e+8:]))
		vsize := uint64(binary.LittleEndian.Uint32(p[e+12:]))
		if e+pos+ksize+vsize > uint64(len(p)) {
			continue
		}
		fn(flags, p[e+pos:e+pos+ksize], p[e+pos+ksize:e+pos+ksize+vsize])
	}
}

// tree walks the branch and leaf pages under id, calling fn for every
// leaf element; pages already visited are not walked again.
func (r *rawIndex) tree(id uint64, depth int, fn func(flags uint32, k, v []byte)) {
	if depth > maxTreeDepth || r.visited[id] {
		return
	}
	p := r.page(id)
	if p == nil {
		return
	}
	r.visited[id] = true
	r.node(p, depth, fn)
}

func (r *rawIndex) node(p []byte, depth int, fn func(flags uint32, k, v []byte)) {
	if len(p) < pageHeader {
		return
	}
	switch binary.LittleEndian.Uint16(p[8:]) {
	case branchPage:
		count := int(binary.LittleEndian.Uint16(p[10:]))
		for i := 0; i < count && pageHeader+(i+1)*elementSize <= len(p); i++ {
			e := pageHeader + i*elementSize
			r.tree(binary.LittleEndian.Uint64(p[e+8:]), depth+1, fn)
		}
	case leafPage:
		r.leaf(p, fn)
	}
}

// walkRoot reads the root bucket's tree: its elements are the buckets.
func (r *rawIndex) walkRoot(root uint64, pass int) {
	r.tree(root, 0, func(flags uint32, k, v []byte) {
		if flags&bucketLeaf != 0 {
			r.walkBucket(string(k), v, pass)
		}
	})
}

// walkBucket reads one top-level bucket from its header (v): its own
// tree or its inline page.
func (r *rawIndex) walkBucket(name string, hdr []byte, pass int) {
	if !isSalvaged(name) || len(hdr) < 16 {
		return
	}
	keep := func(flags uint32, k, v []byte) {
		if flags&bucketLeaf == 0 {
			r.keep(name, k, v, pass)
		}
	}
	if root := binary.LittleEndian.Uint64(hdr[0:8]); root != 0 {
		r.tree(root, 1, keep)
	} else {
		r.node(hdr[16:], 1, keep)
	}
}

func isSalvaged(name string) bool {
	for _, b := range salvageBuckets {
		if string(b) == name {
			return true
		}
	}
	return false
}

// keep adds a record if it has the shape its bucket holds and no earlier
// pass found its key. Among older copies (passes 3 and 4) of an entry,
// a finished one is preferred to one still being written.
func (r *rawIndex) keep(bucket string, k, v []byte, pass int) {
	if bucket == "" || !fits(bucket, k, v) {
		return
	}
	m := r.recs[bucket]
	if m == nil {
		m, r.pass[bucket] = map[string][]byte{}, map[string]int{}
		r.recs[bucket] = m
	}
	if old, ok := m[string(k)]; ok {
		if r.pass[bucket][string(k)] < 3 || pass < 3 || bucket != string(bEntries) || entryRank(v) <= entryRank(old) {
			return
		}
	}
	m[string(k)] = bytes.Clone(v)
	r.pass[bucket][string(k)] = pass
}

func entryRank(v []byte) int {
	var e Entry
	if json.Unmarshal(v, &e) != nil {
		return 0
	}
	if (e.State == StateComplete || e.State == StateTruncated) && e.SHA256 != "" || e.State == StateCDR {
		return 2
	}
	return 1
}

var ageHeader = []byte("age-encryption.org/v1\n")

// fits reports whether a record has the shape bucket holds.
func fits(bucket string, k, v []byte) bool {
	switch bucket {
	case string(bEntries):
		var e Entry
		return validID(string(k)) && json.Unmarshal(v, &e) == nil && e.ID == string(k) && e.State != ""
	case string(bTombstones):
		var ts Tombstone
		return validID(string(k)) && json.Unmarshal(v, &ts) == nil && ts.ID == string(k) && !ts.DeletedAt.IsZero()
	case string(bSealed), string(bSubjects):
		return validID(string(k)) && bytes.HasPrefix(v, ageHeader)
	case string(bHolds):
		return len(k) > 0 && json.Valid(v)
	case string(bMeta):
		return bytes.Equal(k, keySubjectSalt) && len(v) == 16
	}
	return false
}

// shapeOf names the bucket a record of unknown bucket belongs to, when
// its shape says so (entries and tombstones carry their own ID).
func shapeOf(k, v []byte) string {
	switch {
	case fits(string(bTombstones), k, v):
		return string(bTombstones)
	case fits(string(bEntries), k, v):
		return string(bEntries)
	}
	return ""
}
