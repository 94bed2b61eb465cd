package tdx

import (
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
)

// Order is the order in which the VMM issues TDH.MEM.PAGE.ADD and
// TDH.MR.EXTEND within a section.
type Order int

// Orders.
const (
	// OrderPerPage adds a page, then extends its chunks (upstream Linux
	// KVM).
	OrderPerPage Order = iota
	// OrderPerSection adds every page of a section, then extends them.
	OrderPerSection
)

// ParseOrder reads "per-page" or "per-section".
func ParseOrder(s string) (Order, error) {
	switch s {
	case "per-page", "":
		return OrderPerPage, nil
	case "per-section":
		return OrderPerSection, nil
	}
	return 0, fmt.Errorf("tdx: page order %q, want per-page or per-section", s)
}

func (o Order) String() string {
	if o == OrderPerSection {
		return "per-section"
	}
	return "per-page"
}

// DigestSize is the size of MRTD (SHA-384).
const DigestSize = sha512.Size384

type recorder struct {
	h   hash.Hash
	blk [128]byte
}

// pageAdd absorbs TDH.MEM.PAGE.ADD's 128-byte record.
func (r *recorder) pageAdd(gpa uint64) {
	clear(r.blk[:])
	copy(r.blk[:], "MEM.PAGE.ADD")
	binary.LittleEndian.PutUint64(r.blk[16:], gpa)
	r.h.Write(r.blk[:])
}

// extend absorbs TDH.MR.EXTEND's record and the 256-byte chunk.
func (r *recorder) extend(gpa uint64, chunk []byte) {
	clear(r.blk[:])
	copy(r.blk[:], "MR.EXTEND")
	binary.LittleEndian.PutUint64(r.blk[16:], gpa)
	r.h.Write(r.blk[:])
	r.h.Write(chunk)
}

func (r *recorder) extendPage(t *TDVF, s Section, page uint64) {
	base := uint64(s.DataOffset) + page*pageSize
	for c := uint64(0); c < pageSize; c += chunkSize {
		r.extend(s.MemoryAddress+page*pageSize+c, t.Image[base+c:base+c+chunkSize])
	}
}

// MRTD computes the TD's MRTD for the image's sections added in order o.
func MRTD(t *TDVF, o Order) ([DigestSize]byte, error) {
	var out [DigestSize]byte
	if o != OrderPerPage && o != OrderPerSection {
		return out, fmt.Errorf("tdx: unknown page order %d", int(o))
	}
	r := recorder{h: sha512.New384()}
	for _, s := range t.Sections {
		if s.Attributes&AttrPageAug != 0 {
			continue
		}
		pages := s.MemoryDataSize / pageSize
		ext := s.Attributes&AttrMRExtend != 0
		for p := range pages {
			r.pageAdd(s.MemoryAddress + p*pageSize)
			if ext && o == OrderPerPage {
				r.extendPage(t, s, p)
			}
		}
		if ext && o == OrderPerSection {
			for p := range pages {
				r.extendPage(t, s, p)
			}
		}
	}
	r.h.Sum(out[:0])
	return out, nil
}
