package tcg

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"fmt"
	"hash"
	"slices"
	"strings"

	"github.com/assay-dev/assay/internal/eventlog/uefi"
)

// FormatIMA is what SniffIMA returns for an IMA measurement list.
const FormatIMA = "ima-log"

// IMA template names (Linux security/integrity/ima/ima_template.c,
// builtin_templates) and their fields.
var imaTemplateFields = map[string][]string{
	"ima":        {"d", "n"},
	"ima-ng":     {"d-ng", "n-ng"},
	"ima-sig":    {"d-ng", "n-ng", "sig"},
	"ima-buf":    {"d-ng", "n-ng", "buf"},
	"ima-modsig": {"d-ng", "n-ng", "sig", "d-modsig", "modsig"},
	"ima-ngv2":   {"d-ngv2", "n-ng"},
	"ima-sigv2":  {"d-ngv2", "n-ng", "sig"},
	"evm-sig":    {"d-ng", "n-ng", "evmsig", "xattrnames", "xattrlengths", "xattrvalues", "iuid", "igid", "imode"},
}

// Limits of the kernel (security/integrity/ima/ima.h).
const (
	imaTemplateNameMax  = 15  // IMA_TEMPLATE_NAME_LEN_MAX
	imaEventNameMax     = 255 // IMA_EVENT_NAME_LEN_MAX: the "ima" template's name field
	imaDigestSizeLegacy = 20  // TPM_DIGEST_SIZE: the "ima" template's d field
)

// IMALog is a parsed IMA measurement list, as the kernel exports it in
// /sys/kernel/security/ima/binary_runtime_measurements (Linux
// security/integrity/ima/ima_fs.c, ima_measurements_show). Nothing in it
// is trusted until its replay has been matched to a quoted PCR (10 by
// default) and CheckTemplates has found every entry's template hash to
// be the hash of its template data.
type IMALog struct {
	// TemplateHash is the hash of the template digests in the list:
	// SHA-1 in binary_runtime_measurements, the file's algorithm in
	// binary_runtime_measurements_<alg> (Linux 6.10 and later).
	TemplateHash crypto.Hash
	// BigEndian is set for a list written in the byte order of a
	// big-endian kernel without ima_canonical_fmt.
	BigEndian bool
	Entries   []IMAEntry
}

// IMAEntry is one measurement: the fields ima_measurements_show writes.
type IMAEntry struct {
	// Num is the entry's position in the list, from 0 (the first entry
	// is normally boot_aggregate).
	Num    int
	Offset int
	// PCR is the PCR the entry was extended into (10 unless the IMA
	// policy says otherwise).
	PCR int
	// Digest is the template digest as recorded: TemplateHash of the
	// template data, or zero for a violation (the kernel then extends
	// the PCR with all ones).
	Digest   []byte
	Template string // template name ("ima-ng")
	// Data is the template data as hashed: for every template but "ima",
	// each field as a 32-bit length and its bytes; for "ima", the 20-byte
	// SHA-1 file digest then the length-prefixed file name.
	Data []byte
	// Fields are the template fields' bytes, in the template's order.
	Fields [][]byte
}

// Violation reports whether the entry records an IMA violation (a file
// measured while open for writing, or opened for writing while
// measured): its template digest is zero and the PCR was extended with
// all ones (ima_add_violation).
func (e *IMAEntry) Violation() bool {
	for _, c := range e.Digest {
		if c != 0 {
			return false
		}
	}
	return true
}

// byteOrder reads and appends integers in one byte order.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// order returns the byte order of the list.
func (l *IMALog) order() byteOrder {
	if l.BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

var imaDigestSizes = []struct {
	size int
	hash crypto.Hash
}{{20, crypto.SHA1}, {32, crypto.SHA256}, {48, crypto.SHA384}, {64, crypto.SHA512}}

// ParseIMA reads an IMA measurement list in the kernel's binary format
// (ima_measurements_show): per entry the PCR (u32), the template digest,
// the template name's length (u32) and the name, then, except for the
// "ima" template, the template data's length (u32), then the template
// data. The integers are little-endian (x86, arm64, or any kernel booted
// with ima_canonical_fmt) or, on a big-endian kernel, big-endian; the
// template digest is 20 bytes (SHA-1) in binary_runtime_measurements and
// 32, 48 or 64 in binary_runtime_measurements_sha256 and its siblings.
// ParseIMA works out both from the first entry and holds every entry to
// them.
//
// ParseIMA does no crypto: a template digest that is not the hash of its
// entry is reported by CheckTemplates and Claims, not here. The template
// data of the known templates (ima, ima-ng, ima-sig, ima-buf, ima-modsig,
// ima-ngv2, ima-sigv2, evm-sig) and of custom ones must consist of
// length-prefixed fields exactly. The returned IMALog holds its own copy
// of the bytes.
func ParseIMA(b []byte) (*IMALog, error) {
	l, ok := imaDetect(b)
	if !ok {
		return nil, fmt.Errorf("%w: the first %d bytes are not an IMA measurement list entry", ErrMalformed, min(len(b), 64))
	}
	b = bytes.Clone(b)
	// Size the entries (and their fields) once: a list has tens of
	// thousands, and growing the slice entry by entry costs more than
	// parsing them.
	n := 0
	for off := 0; off < len(b); n++ {
		size := l.entrySize(b[off:])
		if size == 0 {
			break
		}
		off += size
	}
	l.Entries = make([]IMAEntry, 0, n+1)
	p := &imaParser{l: l, fields: make([][]byte, 0, 3*(n+1))}
	off := 0
	for off < len(b) {
		e, n, err := p.entry(b[off:])
		if err != nil {
			return nil, fmt.Errorf("%w: IMA entry #%d at offset %d: %v", ErrMalformed, len(l.Entries), off, err)
		}
		e.Num, e.Offset = len(l.Entries), off
		l.Entries = append(l.Entries, e)
		off += n
	}
	return l, nil
}

// entrySize returns the length of the entry at the start of b as its
// length fields state it, or 0 when they do not fit in b. It checks
// nothing else: the parse that follows does.
func (l *IMALog) entrySize(b []byte) int {
	o := l.order()
	off := 4 + l.TemplateHash.Size()
	if len(b) < off+4 {
		return 0
	}
	nameLen := o.Uint32(b[off:])
	off += 4
	if nameLen > imaTemplateNameMax || int(nameLen) > len(b)-off {
		return 0
	}
	legacy := string(b[off:off+int(nameLen)]) == "ima"
	off += int(nameLen)
	if legacy {
		if len(b)-off < imaDigestSizeLegacy+4 {
			return 0
		}
		n := o.Uint32(b[off+imaDigestSizeLegacy:])
		if n > imaEventNameMax || int(n) > len(b)-off-imaDigestSizeLegacy-4 {
			return 0
		}
		return off + imaDigestSizeLegacy + 4 + int(n)
	}
	if len(b)-off < 4 {
		return 0
	}
	n := o.Uint32(b[off:])
	if uint64(n) > uint64(len(b)-off-4) {
		return 0
	}
	return off + 4 + int(n)
}

// imaParser reads the entries of one list: their fields share one
// backing array, and consecutive entries of one template its name.
type imaParser struct {
	l            *IMALog
	fields       [][]byte
	lastTemplate string
	lastFields   []string // imaTemplateFields[lastTemplate]
}

// imaDetect finds the byte order and template digest size under which
// the first entry of b parses with a known template name.
func imaDetect(b []byte) (*IMALog, bool) {
	for _, big := range []bool{false, true} {
		for _, ds := range imaDigestSizes {
			l := &IMALog{TemplateHash: ds.hash, BigEndian: big}
			if e, _, err := l.parseEntry(b); err == nil && imaTemplateFields[e.Template] != nil {
				return l, true
			}
		}
	}
	return nil, false
}

// parseEntry reads one entry from the start of b.
func (l *IMALog) parseEntry(b []byte) (IMAEntry, int, error) {
	return (&imaParser{l: l}).entry(b)
}

// entry reads one entry from the start of b.
func (p *imaParser) entry(b []byte) (IMAEntry, int, error) {
	l := p.l
	o := l.order()
	size := l.TemplateHash.Size()
	if len(b) < 4+size+4 {
		return IMAEntry{}, 0, fmt.Errorf("%d bytes left, an entry needs at least %d", len(b), 4+size+4)
	}
	e := IMAEntry{PCR: int(o.Uint32(b)), Digest: b[4 : 4+size : 4+size]}
	if e.PCR >= NumPCRs {
		return IMAEntry{}, 0, fmt.Errorf("PCR %d", uint32(e.PCR))
	}
	off := 4 + size
	nameLen := o.Uint32(b[off:])
	off += 4
	if nameLen > imaTemplateNameMax || int(nameLen) > len(b)-off {
		return IMAEntry{}, 0, fmt.Errorf("template name length %d (at most %d, %d bytes left)", nameLen, imaTemplateNameMax, len(b)-off)
	}
	name := b[off : off+int(nameLen)]
	for _, c := range name {
		if c <= 0x20 || c >= 0x7f {
			return IMAEntry{}, 0, fmt.Errorf("template name %q is not printable", name)
		}
	}
	if string(name) != p.lastTemplate || p.lastFields == nil {
		p.lastTemplate = string(name)
		p.lastFields = imaTemplateFields[p.lastTemplate]
	}
	e.Template = p.lastTemplate
	off += int(nameLen)
	rest := b[off:]
	if e.Template == "ima" {
		// "ima": the d field without its length, the n field with it
		// (ima_measurements_show, IMA_SHOW_BINARY_NO_FIELD_LEN and
		// IMA_SHOW_BINARY_OLD_STRING_FMT).
		if len(rest) < imaDigestSizeLegacy+4 {
			return IMAEntry{}, 0, fmt.Errorf("ima template data: %d bytes left", len(rest))
		}
		n := o.Uint32(rest[imaDigestSizeLegacy:])
		if n > imaEventNameMax || int(n) > len(rest)-imaDigestSizeLegacy-4 {
			return IMAEntry{}, 0, fmt.Errorf("ima template file name length %d (at most %d, %d bytes left)", n, imaEventNameMax, len(rest)-imaDigestSizeLegacy-4)
		}
		end := imaDigestSizeLegacy + 4 + int(n)
		e.Data = rest[:end:end]
		start := len(p.fields)
		p.fields = append(p.fields, rest[:imaDigestSizeLegacy:imaDigestSizeLegacy], rest[imaDigestSizeLegacy+4:end:end])
		e.Fields = p.fields[start:len(p.fields):len(p.fields)]
		return e, off + end, nil
	}
	if len(rest) < 4 {
		return IMAEntry{}, 0, fmt.Errorf("input ends before the template data length")
	}
	n := o.Uint32(rest)
	if uint64(n) > uint64(len(rest)-4) {
		return IMAEntry{}, 0, fmt.Errorf("template data length %d exceeds the %d bytes left", n, len(rest)-4)
	}
	e.Data = rest[4 : 4+n : 4+n]
	start := len(p.fields)
	for d := e.Data; len(d) > 0; {
		if len(d) < 4 {
			return IMAEntry{}, 0, fmt.Errorf("template data: %d bytes left where a field length is due", len(d))
		}
		fl := o.Uint32(d)
		if uint64(fl) > uint64(len(d)-4) {
			return IMAEntry{}, 0, fmt.Errorf("template field %d: length %d exceeds the %d bytes left", len(p.fields)-start, fl, len(d)-4)
		}
		p.fields = append(p.fields, d[4:4+fl:4+fl])
		d = d[4+fl:]
	}
	if len(p.fields) > start {
		e.Fields = p.fields[start:len(p.fields):len(p.fields)]
	}
	if want := p.lastFields; want != nil && len(e.Fields) != len(want) {
		return IMAEntry{}, 0, fmt.Errorf("template %s has %d fields, want %d (%s)", e.Template, len(e.Fields), len(want), strings.Join(want, "|"))
	}
	return e, off + 4 + int(n), nil
}

// Marshal encodes the list as it was read: ParseIMA(l.Marshal()) gives
// back l.
func (l *IMALog) Marshal() []byte {
	o := l.order()
	var out []byte
	for i := range l.Entries {
		e := &l.Entries[i]
		out = o.AppendUint32(out, uint32(e.PCR))
		out = append(out, e.Digest...)
		out = o.AppendUint32(out, uint32(len(e.Template)))
		out = append(out, e.Template...)
		if e.Template != "ima" {
			out = o.AppendUint32(out, uint32(len(e.Data)))
		}
		out = append(out, e.Data...)
	}
	return out
}

// hashedData returns what the template digest is the hash of
// (ima_calc_field_array_hash_tfm): the template data, except for the
// "ima" template, whose file name is hashed as a NUL-padded
// IMA_EVENT_NAME_LEN_MAX+1-byte buffer without its length.
func (e *IMAEntry) hashedData() []byte {
	if e.Template != "ima" || len(e.Fields) != 2 {
		return e.Data
	}
	b := make([]byte, 0, imaDigestSizeLegacy+imaEventNameMax+1)
	b = append(b, e.Fields[0]...)
	b = append(b, e.Fields[1]...)
	return append(b, make([]byte, imaDigestSizeLegacy+imaEventNameMax+1-len(b))...)
}

// TemplateHashOK reports whether the recorded template digest is the
// hash of the entry's template data; false for a violation, whose
// digest is zero by design.
func (e *IMAEntry) TemplateHashOK(h crypto.Hash) bool {
	if e.Violation() || !h.Available() || len(e.Digest) != h.Size() {
		return false
	}
	return bytes.Equal(sum(h, e.hashedData()), e.Digest)
}

// extender replays IMA entries into one PCR bank, reusing its hash
// states and buffers: a replay hashes every entry once or twice, and
// per-call allocation would cost more than the hashing.
type extender struct {
	l    *IMALog
	bank crypto.Hash
	// padded: extend the recorded digest zero-padded or truncated to the
	// bank's size, as kernels before 5.8 did in every bank.
	padded bool
	pcr    hash.Hash // H(PCR || value)
	data   hash.Hash // H(template data), for banks other than the list's
	buf    []byte
}

func newExtender(l *IMALog, bank crypto.Hash, padded bool) *extender {
	return &extender{l: l, bank: bank, padded: padded, pcr: bank.New(), data: bank.New(), buf: make([]byte, 0, 2*bank.Size())}
}

// value returns what the kernel extends into the PCR for the entry: all
// ones for a violation; the recorded digest in the list's own bank (or
// padded); the hash of the template data in any other (Linux 5.8 and
// later compute one template digest per PCR bank,
// ima_calc_field_array_hash). The result is valid until the next call.
func (x *extender) value(e *IMAEntry) []byte {
	size := x.bank.Size()
	switch {
	case e.Violation():
		x.buf = x.buf[:size]
		for i := range x.buf {
			x.buf[i] = 0xff
		}
		return x.buf
	case x.bank == x.l.TemplateHash:
		return e.Digest
	case x.padded:
		x.buf = x.buf[:size]
		n := copy(x.buf, e.Digest)
		clear(x.buf[n:])
		return x.buf
	}
	x.data.Reset()
	x.data.Write(e.hashedData())
	x.buf = x.data.Sum(x.buf[:0])
	return x.buf
}

// extend sets v (a PCR value of the bank's size) to H(v || value(e)).
func (x *extender) extend(v []byte, e *IMAEntry) {
	ext := x.value(e)
	x.pcr.Reset()
	x.pcr.Write(v)
	x.pcr.Write(ext)
	x.pcr.Sum(v[:0])
}

// ReplayPCRs returns the value of every PCR the list extends in bank,
// each starting from zero. Nil when bank is not a hash Go can compute.
func (l *IMALog) ReplayPCRs(bank crypto.Hash) map[int][]byte {
	if !bank.Available() {
		return nil
	}
	x := newExtender(l, bank, false)
	out := map[int][]byte{}
	for i := range l.Entries {
		e := &l.Entries[i]
		v, ok := out[e.PCR]
		if !ok {
			v = make([]byte, bank.Size())
			out[e.PCR] = v
		}
		x.extend(v, e)
	}
	return out
}

// IMAPCR is the PCR IMA extends by default (CONFIG_IMA_MEASURE_PCR_IDX).
const IMAPCR = 10

// Replay returns the value PCR 10 has in bank after the list's entries
// for it, starting from zero; nil when bank is not a hash Go can compute.
// In the list's own bank (SHA-1 for binary_runtime_measurements) each
// entry extends its recorded digest; in any other the hash of its
// template data, as Linux 5.8 and later do. Kernels before 5.8 extended
// every bank with the SHA-1 digest zero-padded (ReplayPadded).
func (l *IMALog) Replay(bank crypto.Hash) []byte {
	return l.replay(bank, false)
}

// ReplayPadded returns PCR 10 in bank as kernels before 5.8 extended it:
// with each recorded digest zero-padded (or truncated) to the bank's
// size, all ones for a violation.
func (l *IMALog) ReplayPadded(bank crypto.Hash) []byte {
	return l.replay(bank, true)
}

func (l *IMALog) replay(bank crypto.Hash, padded bool) []byte {
	if !bank.Available() {
		return nil
	}
	x := newExtender(l, bank, padded)
	v := make([]byte, bank.Size())
	for i := range l.Entries {
		if e := &l.Entries[i]; e.PCR == IMAPCR {
			x.extend(v, e)
		}
	}
	return v
}

// MatchPrefix returns the number of entries after which PCR pcr's replay
// in bank equals want, and true; 0 and true when want is zero and no
// entry extends pcr before; false when no prefix matches. A list read
// after the quote has more entries than the quote saw: a matching
// prefix binds those entries and no others.
func (l *IMALog) MatchPrefix(bank crypto.Hash, pcr int, want []byte) (int, bool) {
	return l.matchPrefix(bank, pcr, want, false)
}

// MatchPrefixPadded is MatchPrefix for a kernel before 5.8, which
// extended every bank with the recorded digest zero-padded (see
// ReplayPadded). In the list's own bank the two are the same.
func (l *IMALog) MatchPrefixPadded(bank crypto.Hash, pcr int, want []byte) (int, bool) {
	return l.matchPrefix(bank, pcr, want, true)
}

func (l *IMALog) matchPrefix(bank crypto.Hash, pcr int, want []byte, padded bool) (int, bool) {
	if !bank.Available() || len(want) != bank.Size() {
		return 0, false
	}
	v := make([]byte, bank.Size())
	if bytes.Equal(v, want) {
		return 0, true
	}
	x := newExtender(l, bank, padded)
	for i := range l.Entries {
		e := &l.Entries[i]
		if e.PCR != pcr {
			continue
		}
		x.extend(v, e)
		if bytes.Equal(v, want) {
			return i + 1, true
		}
	}
	return 0, false
}

// TemplateHashError lists the entries whose recorded template digest is
// not the hash of their template data: their PCR extension is what the
// replay checks, their content (path, file digest) is not what was
// measured. It wraps ErrMismatch.
type TemplateHashError struct {
	Entries []int
}

func (e *TemplateHashError) Error() string {
	n := make([]string, len(e.Entries))
	for i, x := range e.Entries {
		n[i] = fmt.Sprintf("#%d", x)
	}
	return fmt.Sprintf("%v: IMA entries %s: the template digest is not the hash of the template data", ErrMismatch, strings.Join(n, ", "))
}

// Unwrap makes errors.Is(err, ErrMismatch) hold.
func (e *TemplateHashError) Unwrap() error { return ErrMismatch }

// CheckTemplates returns nil when every entry's template digest is the
// hash of its template data (violations excepted), else a
// *TemplateHashError naming the others.
func (l *IMALog) CheckTemplates() error {
	return l.CheckTemplatesUpTo(len(l.Entries))
}

// CheckTemplatesUpTo is CheckTemplates for the first n entries (those a
// quote binds).
func (l *IMALog) CheckTemplatesUpTo(n int) error {
	var bad []int
	x, buf := l.TemplateHash.New(), make([]byte, 0, l.TemplateHash.Size())
	for i := 0; i < n && i < len(l.Entries); i++ {
		e := &l.Entries[i]
		if e.Violation() {
			continue
		}
		x.Reset()
		x.Write(e.hashedData())
		buf = x.Sum(buf[:0])
		if !bytes.Equal(buf, e.Digest) {
			bad = append(bad, e.Num)
		}
	}
	if len(bad) > 0 {
		return &TemplateHashError{Entries: bad}
	}
	return nil
}

// SniffIMA says whether b looks like an IMA measurement list: its first
// entry parses with a known template name. No crypto.
func SniffIMA(b []byte) (format string, ok bool) {
	if _, ok := imaDetect(b); ok {
		return FormatIMA, true
	}
	return "", false
}

// IMAClaims is the list decoded for policy and for `assay inspect`.
// Every field of an entry is evidence only when the list's replay matched
// a verified PCR and the entry's template_hash_ok is true.
type IMAClaims struct {
	// TemplateHash is the algorithm of the template digests ("sha1").
	TemplateHash string `json:"template_hash_alg"`
	// TemplateHashMismatches are the entries whose template digest is
	// not the hash of their data (violations excepted).
	TemplateHashMismatches []int `json:"template_hash_mismatches,omitempty"`
	// Violations are the entries that record a violation.
	Violations []int            `json:"violations,omitempty"`
	Entries    []IMAEntryClaims `json:"entries"`
}

// IMAEntryClaims is one decoded entry.
type IMAEntryClaims struct {
	Num          int    `json:"num"`
	PCR          int    `json:"pcr"`
	Template     string `json:"template"`
	TemplateHash string `json:"template_hash"`
	// TemplateHashOK: the template digest is the hash of the template
	// data, so the fields below are what was extended.
	TemplateHashOK bool `json:"template_hash_ok"`
	Violation      bool `json:"violation,omitempty"`
	// Path is the file name (the n or n-ng field); "boot_aggregate" for
	// the digest of PCRs 0-7 (0-9 in newer kernels) taken at IMA's start.
	Path string `json:"path,omitempty"`
	// FileDigest and FileDigestAlg are the d, d-ng or d-ngv2 field: the
	// file's hash and its algorithm ("sha256"); DigestType is d-ngv2's
	// "ima" or "verity".
	FileDigest    string `json:"file_digest,omitempty"`
	FileDigestAlg string `json:"file_digest_alg,omitempty"`
	DigestType    string `json:"digest_type,omitempty"`
	// Signature is the sig field (ima-sig, ima-sigv2, ima-modsig): the
	// security.ima extended attribute, hex. Claims do not verify it;
	// Appraise does, with the keys given.
	Signature string `json:"signature,omitempty"`
	// Buffer is the buf field of ima-buf (a kexec command line, a key),
	// hex, and BufferText the same when it is text.
	Buffer     string `json:"buffer,omitempty"`
	BufferText string `json:"buffer_text,omitempty"`
}

// Claims decodes every entry. It never fails: fields that do not decode
// are left empty.
func (l *IMALog) Claims() *IMAClaims {
	c := &IMAClaims{TemplateHash: HashName(l.TemplateHash), Entries: make([]IMAEntryClaims, 0, len(l.Entries))}
	for i := range l.Entries {
		e := &l.Entries[i]
		ec := IMAEntryClaims{
			Num:            e.Num,
			PCR:            e.PCR,
			Template:       e.Template,
			TemplateHash:   fmt.Sprintf("%x", e.Digest),
			Violation:      e.Violation(),
			TemplateHashOK: e.TemplateHashOK(l.TemplateHash),
		}
		switch {
		case ec.Violation:
			c.Violations = append(c.Violations, e.Num)
		case !ec.TemplateHashOK:
			c.TemplateHashMismatches = append(c.TemplateHashMismatches, e.Num)
		}
		names := imaTemplateFields[e.Template]
		for j, f := range e.Fields {
			if j >= len(names) {
				break
			}
			switch names[j] {
			case "d":
				ec.FileDigest, ec.FileDigestAlg = fmt.Sprintf("%x", f), "sha1"
			case "d-ng", "d-ngv2":
				ec.DigestType, ec.FileDigestAlg, ec.FileDigest = imaDigestField(f, names[j] == "d-ngv2")
			case "n", "n-ng":
				if k := bytes.IndexByte(f, 0); k >= 0 {
					f = f[:k]
				}
				ec.Path = string(f)
			case "sig":
				if len(f) > 0 {
					ec.Signature = fmt.Sprintf("%x", f)
				}
			case "buf":
				ec.Buffer = fmt.Sprintf("%x", f)
				if s, ok := uefi.ASCIIText(f); ok && len(s) == len(bytes.TrimRight(f, "\x00")) {
					ec.BufferText = s
				}
			}
		}
		c.Entries = append(c.Entries, ec)
	}
	slices.Sort(c.TemplateHashMismatches)
	return c
}

// imaDigestField splits a d-ng field ("sha256:\0" then the digest) or a
// d-ngv2 field ("ima:sha256:\0" or "verity:sha256:\0" then the digest)
// (ima_eventdigest_init_common). A d-ng field without the prefix is a
// SHA-1 or MD5 digest of an old kernel, named by its size.
func imaDigestField(f []byte, v2 bool) (typ, alg, digest string) {
	k := bytes.IndexByte(f, 0)
	if k < 0 || !bytes.HasSuffix(f[:k], []byte(":")) {
		switch len(f) {
		case 16:
			alg = "md5"
		case 20:
			alg = "sha1"
		}
		return "", alg, fmt.Sprintf("%x", f)
	}
	prefix := string(f[:k-1])
	if v2 {
		typ, prefix, _ = strings.Cut(prefix, ":")
	}
	return typ, prefix, fmt.Sprintf("%x", f[k+1:])
}
