package tcg

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/assay-dev/assay/internal/eventlog/uefi"
)

// FormatCEL is what SniffCEL returns for a Canonical Event Log.
const FormatCEL = "tcg-cel"

// CEL TLV types (TCG Canonical Event Log Format, version 1.0, section
// 5: "CEL-TLV"), with the two that Google's Confidential Space launcher
// adds (github.com/google/go-eventlog cel, go-tpm-tools cel): a CC
// measurement register index (108) and the COS content type (80).
const (
	celRecnum     = 0
	celPCR        = 1
	celNVIndex    = 2
	celDigests    = 3
	celCCMR       = 108
	celContentCOS = 80

	celTLVHeader = 5 // type (1), length (4, big-endian)
)

// CELContentTypes names the content types of the CEL specification
// (section 5.1) and the COS type.
var celContentTypes = map[uint8]string{
	4:             "cel_mgt",
	5:             "pcclient_std",
	7:             "ima_template",
	8:             "ima_tlv",
	celContentCOS: "cos",
}

// cosEventTypes names the COS content's event types (go-tpm-tools
// cel/cos_tlv.go, CosType).
var cosEventTypes = []string{
	"image_ref", "image_digest", "restart_policy", "image_id", "arg", "env_var",
	"override_arg", "override_env", "launch_separator", "memory_monitor",
	"gpu_cc_mode", "gpu_device_attestation_binding",
}

// CELog is a parsed Canonical Event Log in its TLV encoding, as
// Confidential Space's launcher writes it: per record a record number,
// the register (a PCR, or a CC measurement register index), the digests
// and the content. Nothing in it is trusted until its replay matches
// registers from a verified quote.
type CELog struct {
	Records []CELRecord
}

// CELRecord is one CEL record.
type CELRecord struct {
	// Num is the record's position in the input; RecNum its recnum
	// field.
	Num    int
	Offset int
	RecNum uint64
	// Register is "PCR", "NV" (an NV index) or "CCMR" (a CC measurement
	// register index, UEFI 2.10 section 38.4.1: 4 is TDX RTMR3); Index
	// is its number.
	Register string
	Index    int
	// Digests are the record's digests by hash; DigestValues all of
	// them, in order.
	Digests      map[crypto.Hash][]byte
	DigestValues []Digest
	// ContentType is the content's TLV type; Content the whole content
	// TLV (type, length, value), which is what the digests hash.
	ContentType uint8
	Content     []byte
}

// Value returns the content TLV's value.
func (r *CELRecord) Value() []byte { return r.Content[celTLVHeader:] }

// celTLV splits one TLV off the front of b.
func celTLV(b []byte) (typ uint8, value []byte, n int, err error) {
	if len(b) < celTLVHeader {
		return 0, nil, 0, fmt.Errorf("%d bytes left, a TLV needs %d", len(b), celTLVHeader)
	}
	l := binary.BigEndian.Uint32(b[1:])
	if uint64(l) > uint64(len(b)-celTLVHeader) {
		return 0, nil, 0, fmt.Errorf("TLV type %d: length %d exceeds the %d bytes left", b[0], l, len(b)-celTLVHeader)
	}
	n = celTLVHeader + int(l)
	return b[0], b[celTLVHeader:n:n], n, nil
}

// ParseCEL reads a Canonical Event Log in the TLV encoding (TCG CEL 1.0
// section 5) as Confidential Space's launcher writes it: records of four
// TLVs, recnum (8 bytes), a register index (PCR, NV index or CCMR; 1 to 4
// bytes), digests (a TLV per digest, typed by TPM_ALG_ID), content. The
// JSON and CBOR encodings of CEL are not supported. ParseCEL does no
// crypto; the returned log holds its own copy of the bytes.
func ParseCEL(b []byte) (*CELog, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty CEL", ErrMalformed)
	}
	b = bytes.Clone(b)
	l := &CELog{}
	for off := 0; off < len(b); {
		r, n, err := parseCELRecord(b[off:])
		if err != nil {
			return nil, fmt.Errorf("%w: CEL record #%d at offset %d: %v", ErrMalformed, len(l.Records), off, err)
		}
		r.Num, r.Offset = len(l.Records), off
		l.Records = append(l.Records, r)
		off += n
	}
	return l, nil
}

func parseCELRecord(b []byte) (CELRecord, int, error) {
	var r CELRecord
	typ, v, off, err := celTLV(b)
	if err != nil {
		return r, 0, err
	}
	if typ != celRecnum || len(v) != 8 {
		return r, 0, fmt.Errorf("first TLV is type %d with %d bytes, want recnum (0) with 8", typ, len(v))
	}
	r.RecNum = binary.BigEndian.Uint64(v)

	typ, v, n, err := celTLV(b[off:])
	if err != nil {
		return r, 0, err
	}
	off += n
	switch typ {
	case celPCR:
		r.Register = "PCR"
	case celNVIndex:
		r.Register = "NV"
	case celCCMR:
		r.Register = "CCMR"
	default:
		return r, 0, fmt.Errorf("second TLV is type %d, want a register index (1, 2 or 108)", typ)
	}
	if len(v) < 1 || len(v) > 4 {
		return r, 0, fmt.Errorf("register index is %d bytes, want 1 to 4", len(v))
	}
	var idx uint32
	for _, c := range v {
		idx = idx<<8 | uint32(c)
	}
	r.Index = int(idx)

	typ, v, n, err = celTLV(b[off:])
	if err != nil {
		return r, 0, err
	}
	off += n
	if typ != celDigests {
		return r, 0, fmt.Errorf("third TLV is type %d, want digests (3)", typ)
	}
	r.Digests = map[crypto.Hash][]byte{}
	for len(v) > 0 {
		alg, d, n, err := celTLV(v)
		if err != nil {
			return r, 0, fmt.Errorf("digests: %v", err)
		}
		v = v[n:]
		a := AlgID(alg)
		if want := a.Size(); want != 0 && len(d) != want {
			return r, 0, fmt.Errorf("digest %s is %d bytes, want %d", a, len(d), want)
		}
		for _, x := range r.DigestValues {
			if x.Alg == a {
				return r, 0, fmt.Errorf("digest %s given twice", a)
			}
		}
		r.DigestValues = append(r.DigestValues, Digest{Alg: a, Value: d})
		if h := a.Hash(); h != 0 {
			r.Digests[h] = d
		}
	}

	typ, _, n, err = celTLV(b[off:])
	if err != nil {
		return r, 0, fmt.Errorf("content: %v", err)
	}
	r.ContentType = typ
	r.Content = b[off : off+n : off+n]
	return r, off + n, nil
}

// SniffCEL says whether b opens with a CEL record in the TLV encoding: a
// recnum TLV, a register index TLV, a digests TLV. No crypto.
func SniffCEL(b []byte) (format string, ok bool) {
	if _, _, err := parseCELRecord(b); err != nil {
		return "", false
	}
	return FormatCEL, true
}

// celKey is a register of a CEL: its kind and index.
type celKey struct {
	register string
	index    int
}

// Replay returns the value of every register the log extends in bank,
// keyed by index, each starting from zero and extended with each
// record's digest in log order. Registers of another kind than the first
// record's are ignored (a launcher's log uses one kind: PCR 13 on a TPM,
// CCMR 4 = RTMR3 on TDX); registers with a record lacking a bank digest
// are left out.
func (l *CELog) Replay(bank crypto.Hash) map[int][]byte {
	out := map[int][]byte{}
	for k, r := range l.replay(bank) {
		if r.missing < 0 && (len(l.Records) == 0 || k.register == l.Records[0].Register) {
			out[k.index] = r.value(nil)
		}
	}
	return out
}

func (l *CELog) replay(bank crypto.Hash) map[celKey]*pcrReplay {
	out := map[celKey]*pcrReplay{}
	if !bank.Available() {
		return out
	}
	for i := range l.Records {
		rec := &l.Records[i]
		k := celKey{rec.Register, rec.Index}
		r := out[k]
		if r == nil {
			r = &pcrReplay{missing: -1}
			out[k] = r
		}
		d, ok := rec.Digests[bank]
		if r.missing >= 0 || !ok {
			if r.missing < 0 {
				r.missing = rec.Num
			}
			continue
		}
		v := r.value(make([]byte, bank.Size()))
		r.steps = append(r.steps, step{rec.Num, sum(bank, append(bytes.Clone(v), d...))})
	}
	return out
}

// Compare replays the log in bank and compares the registers of the
// first record's kind with want (index -> value; a register the log does
// not extend against zero). It returns nil when all match, a
// *MismatchError (ErrMismatch) whose PCRMismatch entries carry the
// register kind, or ErrMalformed when a record of a compared register
// lacks its digest in bank, or ErrUnsupported for a bank Go cannot
// compute.
func (l *CELog) Compare(bank crypto.Hash, want map[int][]byte) error {
	if !bank.Available() {
		return fmt.Errorf("%w: %s is not a hash Assay can compute", ErrUnsupported, HashName(bank))
	}
	kind := "PCR"
	if len(l.Records) > 0 {
		kind = l.Records[0].Register
	}
	rs := l.replay(bank)
	var me MismatchError
	for _, idx := range slices.Sorted(maps.Keys(want)) {
		r := rs[celKey{kind, idx}]
		if r == nil {
			r = &pcrReplay{missing: -1}
		}
		if r.missing >= 0 {
			return fmt.Errorf("%w: CEL record #%d (%s%d) has no %s digest", ErrMalformed, r.missing, kind, idx, HashName(bank))
		}
		zero := make([]byte, bank.Size())
		got := r.value(zero)
		if bytes.Equal(got, want[idx]) {
			continue
		}
		m := PCRMismatch{PCR: idx, Register: kind, Bank: bank, Got: got, Want: bytes.Clone(want[idx]), Events: len(r.steps), First: -1, Last: -1, Matched: -1, DivergesAt: -1}
		if m.Events > 0 {
			m.First, m.Last, m.DivergesAt = r.steps[0].num, r.steps[m.Events-1].num, r.steps[0].num
			if bytes.Equal(want[idx], zero) {
				m.Matched = 0
			}
			for i, s := range r.steps[:m.Events-1] {
				if bytes.Equal(s.value, want[idx]) {
					m.Matched, m.DivergesAt = i+1, r.steps[i+1].num
				}
			}
			for _, s := range r.steps {
				// The launcher's COS records hash their content TLV.
				rec := &l.Records[s.num]
				if rec.ContentType == celContentCOS && !bytes.Equal(sum(bank, rec.Content), rec.Digests[bank]) {
					m.Suspects = append(m.Suspects, rec.Num)
				}
			}
		}
		me.Mismatches = append(me.Mismatches, m)
	}
	if len(me.Mismatches) > 0 {
		return &me
	}
	return nil
}

// CELClaims is the log decoded for policy and for `assay inspect`.
type CELClaims struct {
	Records []CELRecordClaims `json:"records"`
}

// CELRecordClaims is one decoded record.
type CELRecordClaims struct {
	Num      int               `json:"num"`
	RecNum   uint64            `json:"recnum"`
	Register string            `json:"register"` // "PCR", "NV", "CCMR"
	Index    int               `json:"index"`
	Digests  map[string]string `json:"digests"`
	// ContentType names the content ("cos", "pcclient_std"), or gives
	// its number.
	ContentType string `json:"content_type"`
	// DataVerified: every digest is the hash of the content TLV, so the
	// content shown is what was measured.
	DataVerified bool `json:"data_verified"`
	// EventType and Text decode COS content: the launcher's event type
	// ("image_ref", "arg", "env_var") and its value when it is text.
	EventType string `json:"event_type,omitempty"`
	Text      string `json:"text,omitempty"`
	// Value is the content value, hex, when it is not decoded as text.
	Value string `json:"value,omitempty"`
}

// Claims decodes every record. It never fails.
func (l *CELog) Claims() *CELClaims {
	c := &CELClaims{Records: make([]CELRecordClaims, 0, len(l.Records))}
	for i := range l.Records {
		r := &l.Records[i]
		rc := CELRecordClaims{Num: r.Num, RecNum: r.RecNum, Register: r.Register, Index: r.Index, Digests: map[string]string{}}
		for _, d := range r.DigestValues {
			rc.Digests[d.Alg.String()] = hex.EncodeToString(d.Value)
		}
		rc.ContentType = celContentTypes[r.ContentType]
		if rc.ContentType == "" {
			rc.ContentType = fmt.Sprint(r.ContentType)
		}
		n := 0
		rc.DataVerified = true
		for h, d := range r.Digests {
			if h.Available() {
				n++
				rc.DataVerified = rc.DataVerified && bytes.Equal(sum(h, r.Content), d)
			}
		}
		rc.DataVerified = rc.DataVerified && n > 0
		v := r.Value()
		if r.ContentType == celContentCOS {
			if typ, val, n, err := celTLV(v); err == nil && n == len(v) {
				if int(typ) < len(cosEventTypes) {
					rc.EventType = cosEventTypes[typ]
				} else {
					rc.EventType = fmt.Sprint(typ)
				}
				v = val
			}
		}
		if s, ok := uefi.ASCIIText(v); ok && len(s) == len(v) {
			rc.Text = s
		} else if len(v) > 0 {
			rc.Value = hex.EncodeToString(v)
		}
		c.Records = append(c.Records, rc)
	}
	return c
}

// String summarises the log for humans.
func (l *CELog) String() string {
	kinds := map[string]bool{}
	for _, r := range l.Records {
		kinds[fmt.Sprintf("%s%d", r.Register, r.Index)] = true
	}
	return fmt.Sprintf("Canonical Event Log: %d records, registers %s", len(l.Records), strings.Join(slices.Sorted(maps.Keys(kinds)), ","))
}
