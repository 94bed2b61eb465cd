package ccel

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/assay-dev/assay/internal/eventlog/uefi"
)

// Log is a parsed CC event log: the Spec ID header and every
// TCG_PCR_EVENT2 after it, in log order. Nothing in it is trusted until
// Compare has tied it to RTMR values from a verified quote.
type Log struct {
	// SpecID is the first event, "Spec ID Event03".
	SpecID SpecID
	// Events are the TCG_PCR_EVENT2 entries after the header. Events[i]
	// has Num i+1: the header is event #0.
	Events []Event
	// Length is the size in bytes of the log proper, header included.
	Length int
	// Padding is the number of 0x00/0xFF bytes after the last event (the
	// unused rest of the log area, up to LAML).
	Padding int
}

// SpecID is the TCG_EfiSpecIdEvent carried by the first event (PFP 1.06
// section 10.4.5.1, "Specification ID Version Event"), whose digest
// sizes say how to read every later event, and the MR index the header
// event was logged with.
type SpecID struct {
	// MRIndex is the header event's PCRIndex field. PFP says 0; TDVF
	// writes 1 (RTMR0), td-shim 0. It is never replayed.
	MRIndex uint32
	uefi.SpecID
}

// Algorithm is one TCG_EfiSpecIdEventAlgorithmSize.
type Algorithm = uefi.Algorithm

// Event is one TCG_PCR_EVENT2 (PFP 1.06 section 10.2.2).
type Event struct {
	// Num is the event's position in the log; the Spec ID header is #0.
	Num int
	// Offset is where the event starts in the log area.
	Offset int
	// MRIndex is the PCRIndex field, which a CC event log uses for the CC
	// measurement register index (UEFI 2.10 section 38.4.1; for TDX, EDK2
	// MdePkg/Include/Protocol/CcMeasurement.h): 0 = MRTD, 1..4 = RTMR0..3.
	MRIndex uint32
	Type    EventType
	Digests []Digest
	// Data is the event field, uninterpreted.
	Data []byte
}

// Digest is one TPMT_HA of an event's digests list.
type Digest struct {
	Alg   AlgID
	Value []byte
}

// RTMR returns the RTMR the event extends (0 to 3) and true, or false
// for MR index 0 (MRTD, measured by the TDX module, never in the log's
// replay) and indexes above 4, which TDX does not have.
func (e *Event) RTMR() (int, bool) {
	if e.MRIndex >= 1 && e.MRIndex <= 4 {
		return int(e.MRIndex - 1), true
	}
	return 0, false
}

// Digest returns the event's digest in bank alg, or nil.
func (e *Event) Digest(alg AlgID) []byte {
	for _, d := range e.Digests {
		if d.Alg == alg {
			return d.Value
		}
	}
	return nil
}

// extends reports whether the event is part of an RTMR's replay: it names
// RTMR0..3 and is not EV_NO_ACTION (PFP 1.06 section 10.4.5: EV_NO_ACTION
// events are not extended).
func (e *Event) extends() bool {
	_, ok := e.RTMR()
	return ok && e.Type != EvNoAction
}

// Sizes of fixed parts (PFP 1.06 sections 10.2.1, 10.2.2, 10.4.5.1).
const (
	pcrEventHeaderSize = 32 // TCG_PCR_EVENT: pcrIndex, eventType, digest[20], eventSize
	pcrEvent2FixedSize = 12 // TCG_PCR_EVENT2: pcrIndex, eventType, digests.count
	specIDFixedSize    = 28 // Spec ID event data: signature[16] .. numberOfAlgorithms
)

// Parse parses a CC event log area ("CCEL data": what
// /sys/firmware/acpi/tables/data/CCEL holds, or the log the TDX guest
// hands over). It starts at the SHA-1-format Spec ID event, then reads
// TCG_PCR_EVENT2 entries until the input ends or the rest of it is
// padding: an event position whose first 8 bytes (MR index and type) are
// all 0x00 or all 0xFF, or a tail of fewer than 8 bytes, with every byte
// from there on 0x00 or 0xFF. Padding followed by anything else is
// ErrMalformed, so a mis-parse cannot silently cut the log short.
//
// Parse does no crypto. The returned Log holds its own copy of the bytes.
func Parse(b []byte) (*Log, error) {
	if len(b) < pcrEventHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte Spec ID event header", ErrMalformed, len(b), pcrEventHeaderSize)
	}
	hdrMR := binary.LittleEndian.Uint32(b[0:])
	hdrType := EventType(binary.LittleEndian.Uint32(b[4:]))
	hdrSize := binary.LittleEndian.Uint32(b[28:])
	if hdrType != EvNoAction {
		return nil, fmt.Errorf("%w: first event is %s, want EV_NO_ACTION (Spec ID Event03)", ErrMalformed, hdrType)
	}
	// PFP 1.06 section 10.4.5.1: the Spec ID event's SHA-1 digest field
	// is 20 zero bytes.
	if !bytes.Equal(b[8:28], make([]byte, 20)) {
		return nil, fmt.Errorf("%w: Spec ID event digest is %x, want zero", ErrMalformed, b[8:28])
	}
	if uint64(hdrSize) > uint64(len(b)-pcrEventHeaderSize) {
		return nil, fmt.Errorf("%w: Spec ID event size %d exceeds the %d bytes left", ErrMalformed, hdrSize, len(b)-pcrEventHeaderSize)
	}
	end := pcrEventHeaderSize + int(hdrSize)
	// One copy of the whole input; events alias it, so the caller's
	// buffer stays theirs.
	b = bytes.Clone(b)
	spec, err := parseSpecID(b[pcrEventHeaderSize:end])
	if err != nil {
		return nil, err
	}
	spec.MRIndex = hdrMR
	l := &Log{SpecID: *spec}
	off := end
	for off < len(b) {
		rest := b[off:]
		if uefi.PaddingStarts(rest) {
			if j := uefi.FirstNonPadding(rest); j >= 0 {
				return nil, fmt.Errorf("%w: padding at offset %d is followed by data at offset %d", ErrMalformed, off, off+j)
			}
			l.Padding = len(rest)
			break
		}
		ev, n, err := parseEvent2(rest, spec.Algorithms)
		if err != nil {
			return nil, fmt.Errorf("%w: event #%d at offset %d: %v", ErrMalformed, len(l.Events)+1, off, err)
		}
		ev.Num = len(l.Events) + 1
		ev.Offset = off
		l.Events = append(l.Events, ev)
		off += n
	}
	l.Length = off
	return l, nil
}

func parseSpecID(d []byte) (*SpecID, error) {
	s, err := uefi.ParseSpecID(d)
	if errors.Is(err, uefi.ErrNotSpecID) {
		return nil, fmt.Errorf("%w: first event is not a Spec ID Event03 (not a crypto-agile log)", ErrMalformed)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &SpecID{SpecID: *s}, nil
}

// parseEvent2 reads one TCG_PCR_EVENT2 from the start of b and returns it
// with its length. Digest sizes come from the Spec ID header; a digest in
// a bank the header does not declare cannot be skipped and is an error.
func parseEvent2(b []byte, algs []Algorithm) (Event, int, error) {
	if len(b) < pcrEvent2FixedSize {
		return Event{}, 0, fmt.Errorf("%d bytes left, an event needs at least %d", len(b), pcrEvent2FixedSize+4)
	}
	ev := Event{
		MRIndex: binary.LittleEndian.Uint32(b[0:]),
		Type:    EventType(binary.LittleEndian.Uint32(b[4:])),
	}
	count := binary.LittleEndian.Uint32(b[8:])
	off := pcrEvent2FixedSize
	// Each digest takes at least 3 bytes (algorithm ID and a non-empty
	// value): bound the count by what is left before allocating.
	if uint64(count)*3 > uint64(len(b)-off) {
		return Event{}, 0, fmt.Errorf("digest count %d does not fit in %d bytes", count, len(b)-off)
	}
	if count > 0 {
		ev.Digests = make([]Digest, 0, count)
	}
	for i := uint32(0); i < count; i++ {
		if len(b)-off < 2 {
			return Event{}, 0, fmt.Errorf("digest %d: input ends before the algorithm ID", i)
		}
		alg := AlgID(binary.LittleEndian.Uint16(b[off:]))
		off += 2
		size := -1
		for _, a := range algs {
			if a.ID == alg {
				size = int(a.Size)
			}
		}
		if size < 0 {
			return Event{}, 0, fmt.Errorf("digest %d: algorithm %s is not declared in the Spec ID event", i, alg)
		}
		if len(b)-off < size {
			return Event{}, 0, fmt.Errorf("digest %d (%s): %d bytes left, want %d", i, alg, len(b)-off, size)
		}
		ev.Digests = append(ev.Digests, Digest{Alg: alg, Value: b[off : off+size : off+size]})
		off += size
	}
	if len(b)-off < 4 {
		return Event{}, 0, fmt.Errorf("input ends before eventSize")
	}
	size := binary.LittleEndian.Uint32(b[off:])
	off += 4
	if uint64(size) > uint64(len(b)-off) {
		return Event{}, 0, fmt.Errorf("eventSize %d exceeds the %d bytes left", size, len(b)-off)
	}
	ev.Data = b[off : off+int(size) : off+int(size)]
	off += int(size)
	return ev, off, nil
}

// Marshal encodes the log as it was read, without the trailing padding:
// Parse(l.Marshal()) gives back l with Padding 0.
func (l *Log) Marshal() []byte {
	var spec []byte
	spec = append(spec, uefi.SpecIDSignature...)
	spec = binary.LittleEndian.AppendUint32(spec, l.SpecID.PlatformClass)
	spec = append(spec, l.SpecID.SpecVersionMinor, l.SpecID.SpecVersionMajor, l.SpecID.SpecErrata, l.SpecID.UINTNSize)
	spec = binary.LittleEndian.AppendUint32(spec, uint32(len(l.SpecID.Algorithms)))
	for _, a := range l.SpecID.Algorithms {
		spec = binary.LittleEndian.AppendUint16(spec, uint16(a.ID))
		spec = binary.LittleEndian.AppendUint16(spec, a.Size)
	}
	spec = append(spec, byte(len(l.SpecID.VendorInfo)))
	spec = append(spec, l.SpecID.VendorInfo...)

	out := binary.LittleEndian.AppendUint32(nil, l.SpecID.MRIndex)
	out = binary.LittleEndian.AppendUint32(out, uint32(EvNoAction))
	out = append(out, make([]byte, 20)...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(spec)))
	out = append(out, spec...)
	for _, e := range l.Events {
		out = binary.LittleEndian.AppendUint32(out, e.MRIndex)
		out = binary.LittleEndian.AppendUint32(out, uint32(e.Type))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(e.Digests)))
		for _, d := range e.Digests {
			out = binary.LittleEndian.AppendUint16(out, uint16(d.Alg))
			out = append(out, d.Value...)
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(len(e.Data)))
		out = append(out, e.Data...)
	}
	return out
}

// Banks returns the names of the banks the Spec ID event declares
// ("sha384").
func (l *Log) Banks() []string {
	var s []string
	for _, a := range l.SpecID.Algorithms {
		s = append(s, a.ID.String())
	}
	return s
}

// HasBank reports whether the Spec ID event declares the bank alg.
func (l *Log) HasBank(alg AlgID) bool {
	for _, a := range l.SpecID.Algorithms {
		if a.ID == alg {
			return true
		}
	}
	return false
}

// Formats Sniff recognises.
const (
	FormatLog   = "ccel-log"
	FormatTable = "ccel-acpi-table"
)

// Sniff says whether b looks like a CCEL ACPI table or a CC event log,
// reading only the first bytes: no crypto, no full parse.
//
// A CC event log and a TPM's TCG2 log share one format; Sniff says
// "ccel-log" only when the Spec ID header declares SHA-384 or SM3
// banks and nothing else, as TDX (and Hygon CSV) firmware does. A TPM log
// with only a SHA-384 bank would be taken for a CC log.
func Sniff(b []byte) (format string, ok bool) {
	if len(b) >= acpiHeaderSize && (string(b[:4]) == "CCEL" || string(b[:4]) == "TDEL") {
		if n := binary.LittleEndian.Uint32(b[4:]); n >= tableSize && int(n) <= len(b) {
			return FormatTable, true
		}
		return "", false
	}
	if len(b) < pcrEventHeaderSize+specIDFixedSize {
		return "", false
	}
	if EventType(binary.LittleEndian.Uint32(b[4:])) != EvNoAction {
		return "", false
	}
	size := binary.LittleEndian.Uint32(b[28:])
	if uint64(size) > uint64(len(b)-pcrEventHeaderSize) {
		return "", false
	}
	spec, err := parseSpecID(b[pcrEventHeaderSize : pcrEventHeaderSize+int(size)])
	if err != nil {
		return "", false
	}
	for _, a := range spec.Algorithms {
		if a.ID != AlgSHA384 && a.ID != AlgSM3_256 {
			return "", false
		}
	}
	return FormatLog, true
}

// String summarises the log for humans: banks, event count, padding.
func (l *Log) String() string {
	return fmt.Sprintf("CC event log: %d events, banks %s, %d bytes + %d padding",
		len(l.Events), strings.Join(l.Banks(), ","), l.Length, l.Padding)
}

// sha384 returns SHA-384 of the concatenation of parts.
func sha384(parts ...[]byte) [48]byte {
	h := sha512.New384()
	for _, p := range parts {
		h.Write(p)
	}
	var out [48]byte
	h.Sum(out[:0])
	return out
}
