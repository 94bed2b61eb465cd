package tcg

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/assay-dev/assay/internal/eventlog/uefi"
)

// Formats Parse reads and Sniff recognises.
const (
	// FormatCryptoAgile is a log that opens with the Spec ID Event03 and
	// continues with TCG_PCR_EVENT2 entries (PFP 1.06 section 10.2.2).
	FormatCryptoAgile = "tcg-eventlog"
	// FormatSHA1 is a log of TCG_PCClientPCREvent entries only, each with
	// one SHA-1 digest (PFP 1.06 section 10.2.1; what TPM 1.2 firmware
	// and EFI_TCG2_EVENT_LOG_FORMAT_TCG_1_2 produce).
	FormatSHA1 = "tcg-eventlog-sha1"
)

// NumPCRs is the number of PCRs of a PC Client TPM (TCG PC Client
// Platform TPM Profile (PTP) 1.05, section 4.6.2): events naming any
// other index are not replayed.
const NumPCRs = 24

// Log is a parsed TCG event log. Nothing in it is trusted until Compare
// has tied it to PCR values from a verified quote.
type Log struct {
	// Format is FormatCryptoAgile or FormatSHA1.
	Format string
	// SpecID is the decoded Spec ID Event03 of a crypto-agile log (the
	// data of Events[0]); nil in the SHA-1 format.
	SpecID *SpecID
	// Events are every record of the log in order, Events[i].Num == i:
	// in a crypto-agile log Events[0] is the SHA-1-format Spec ID event
	// (EV_NO_ACTION, never replayed), as tpm2_eventlog numbers it.
	Events []Event
	// Length is the size in bytes of the log proper.
	Length int
	// Padding is the number of 0x00/0xFF bytes after the last event (the
	// unused rest of a log area dumped whole).
	Padding int
}

// SpecID is the TCG_EfiSpecIdEvent (PFP 1.06 section 10.4.5.1) whose
// digest sizes say how to read every later event; shared with the CC
// event log reader.
type SpecID = uefi.SpecID

// Algorithm is one TCG_EfiSpecIdEventAlgorithmSize.
type Algorithm = uefi.Algorithm

// Event is one TCG_PCR_EVENT2 (PFP 1.06 section 10.2.2) or, in a SHA-1
// format log and for the Spec ID event, one TCG_PCClientPCREvent
// (section 10.2.1).
type Event struct {
	// Num is the event's position in the log, from 0.
	Num int
	// Offset is where the event starts in the input.
	Offset int
	// PCR is pcrIndex. Windows writes 0xFFFFFFFF for events it does not
	// measure (4294967295 here; uint32(PCR) gives the field back).
	PCR int
	// Type is eventType (PFP Table 9; EventTypeName names it).
	Type uint32
	// Digests are the event's digests by hash, for the algorithms Go
	// knows; DigestValues has them all (SM3 too) in log order.
	Digests      map[crypto.Hash][]byte
	DigestValues []Digest // digests (TPML_DIGEST_VALUES), or digest
	// Data is the event field, uninterpreted.
	Data []byte
}

// Digest is one TPMT_HA of an event's digest list.
type Digest struct {
	Alg   AlgID
	Value []byte
}

// TypeName returns the PFP name of the event's type.
func (e *Event) TypeName() string { return EventTypeName(e.Type) }

// Extends reports whether the event is part of a PCR's replay: it names
// one of the 24 PCRs and is not EV_NO_ACTION (PFP 1.06 section 10.4.5:
// EV_NO_ACTION events are not extended).
func (e *Event) Extends() bool {
	return e.PCR >= 0 && e.PCR < NumPCRs && e.Type != EvNoAction
}

// Sizes of fixed parts (PFP 1.06 sections 10.2.1, 10.2.2).
const (
	pcrEventHeaderSize = 32 // TCG_PCClientPCREvent: pcrIndex, eventType, digest[20], eventDataSize
	pcrEvent2FixedSize = 12 // TCG_PCR_EVENT2: pcrIndex, eventType, digests.count
)

// Parse reads a TCG PC Client Platform Firmware Profile event log (what
// /sys/kernel/security/tpm0/binary_bios_measurements or Windows'
// TCGLogs hold): the crypto-agile format (Spec ID Event03 header, then
// TCG_PCR_EVENT2 entries with one digest per bank) or the SHA-1 format
// (TCG_PCClientPCREvent entries only). The first event decides: an
// EV_NO_ACTION whose data opens with "Spec ID Event03" makes the log
// crypto-agile (and must then be well formed); anything else is read as
// the SHA-1 format.
//
// Parse reads events until the input ends or the rest of it is padding:
// an event position whose first 8 bytes (PCR index and type) are all 0x00
// or all 0xFF, or a tail of fewer than 8 bytes, with every byte from
// there on 0x00 or 0xFF. Padding followed by anything else is
// ErrMalformed, so a mis-parse cannot silently cut the log short. A
// Windows event with PCR index 0xFFFFFFFF and a real type is an event,
// not padding.
//
// Parse does no crypto. The returned Log holds its own copy of the bytes.
func Parse(b []byte) (*Log, error) {
	if len(b) < pcrEventHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte first event header", ErrMalformed, len(b), pcrEventHeaderSize)
	}
	if uefi.PaddingStarts(b) {
		return nil, fmt.Errorf("%w: the log starts with padding (an empty log area)", ErrMalformed)
	}
	// One copy of the whole input; events alias it.
	b = bytes.Clone(b)
	first, n, err := parseEvent1(b)
	if err != nil {
		return nil, fmt.Errorf("%w: event #0: %v", ErrMalformed, err)
	}
	l := &Log{Format: FormatSHA1, Events: []Event{first}}
	next := parseEvent1
	if first.Type == EvNoAction && bytes.HasPrefix(first.Data, []byte(uefi.SpecIDSignature)) {
		// PFP 1.06 section 10.4.5.1: the Spec ID event is in PCR 0 with
		// a zero SHA-1 digest field.
		if first.PCR != 0 || !bytes.Equal(first.DigestValues[0].Value, make([]byte, 20)) {
			return nil, fmt.Errorf("%w: Spec ID event has PCR index %d and digest %x, want 0 and zero", ErrMalformed, uint32(first.PCR), first.DigestValues[0].Value)
		}
		spec, err := parseSpecID(first.Data)
		if err != nil {
			return nil, err
		}
		l.Format, l.SpecID = FormatCryptoAgile, spec
		next = func(b []byte) (Event, int, error) { return parseEvent2(b, spec.Algorithms) }
	}
	off := n
	for off < len(b) {
		rest := b[off:]
		if uefi.PaddingStarts(rest) {
			if j := uefi.FirstNonPadding(rest); j >= 0 {
				return nil, fmt.Errorf("%w: padding at offset %d is followed by data at offset %d", ErrMalformed, off, off+j)
			}
			l.Padding = len(rest)
			break
		}
		ev, n, err := next(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: event #%d at offset %d: %v", ErrMalformed, len(l.Events), off, err)
		}
		ev.Num = len(l.Events)
		ev.Offset = off
		l.Events = append(l.Events, ev)
		off += n
	}
	l.Length = off
	return l, nil
}

// parseEvent1 reads one TCG_PCClientPCREvent (PFP 1.06 section 10.2.1)
// from the start of b.
func parseEvent1(b []byte) (Event, int, error) {
	if len(b) < pcrEventHeaderSize {
		return Event{}, 0, fmt.Errorf("%d bytes left, an event needs at least %d", len(b), pcrEventHeaderSize)
	}
	size := binary.LittleEndian.Uint32(b[28:])
	if uint64(size) > uint64(len(b)-pcrEventHeaderSize) {
		return Event{}, 0, fmt.Errorf("eventDataSize %d exceeds the %d bytes left", size, len(b)-pcrEventHeaderSize)
	}
	d := b[8:28:28]
	end := pcrEventHeaderSize + int(size)
	return Event{
		PCR:          int(binary.LittleEndian.Uint32(b[0:])),
		Type:         binary.LittleEndian.Uint32(b[4:]),
		Digests:      map[crypto.Hash][]byte{crypto.SHA1: d},
		DigestValues: []Digest{{Alg: AlgSHA1, Value: d}},
		Data:         b[pcrEventHeaderSize:end:end],
	}, end, nil
}

func parseSpecID(d []byte) (*SpecID, error) {
	s, err := uefi.ParseSpecID(d)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return s, nil
}

// parseEvent2 reads one TCG_PCR_EVENT2 from the start of b and returns it
// with its length. Digest sizes come from the Spec ID header; a digest in
// a bank the header does not declare cannot be skipped and is an error,
// as is a bank given twice.
func parseEvent2(b []byte, algs []Algorithm) (Event, int, error) {
	if len(b) < pcrEvent2FixedSize {
		return Event{}, 0, fmt.Errorf("%d bytes left, an event needs at least %d", len(b), pcrEvent2FixedSize+4)
	}
	ev := Event{
		PCR:  int(binary.LittleEndian.Uint32(b[0:])),
		Type: binary.LittleEndian.Uint32(b[4:]),
	}
	count := binary.LittleEndian.Uint32(b[8:])
	off := pcrEvent2FixedSize
	// Each digest takes at least 3 bytes (algorithm ID and a non-empty
	// value), and a bank appears at most once: bound the count before
	// allocating.
	if count > uint32(len(algs)) || uint64(count)*3 > uint64(len(b)-off) {
		return Event{}, 0, fmt.Errorf("digest count %d: the Spec ID event declares %d banks, %d bytes are left", count, len(algs), len(b)-off)
	}
	ev.Digests = make(map[crypto.Hash][]byte, count)
	ev.DigestValues = make([]Digest, 0, count)
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
		for _, d := range ev.DigestValues {
			if d.Alg == alg {
				return Event{}, 0, fmt.Errorf("digest %d: algorithm %s given twice", i, alg)
			}
		}
		if len(b)-off < size {
			return Event{}, 0, fmt.Errorf("digest %d (%s): %d bytes left, want %d", i, alg, len(b)-off, size)
		}
		v := b[off : off+size : off+size]
		ev.DigestValues = append(ev.DigestValues, Digest{Alg: alg, Value: v})
		if h := alg.Hash(); h != 0 {
			ev.Digests[h] = v
		}
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
// Parse(l.Marshal()) gives back l with Padding 0. Events are written in
// the log's format: in a SHA-1-format log (and for the Spec ID event)
// each event's first digest is its SHA-1 digest field.
func (l *Log) Marshal() []byte {
	var out []byte
	for i := range l.Events {
		e := &l.Events[i]
		out = binary.LittleEndian.AppendUint32(out, uint32(e.PCR))
		out = binary.LittleEndian.AppendUint32(out, e.Type)
		if l.Format == FormatSHA1 || i == 0 {
			var d [20]byte
			if len(e.DigestValues) > 0 {
				copy(d[:], e.DigestValues[0].Value)
			}
			out = append(out, d[:]...)
		} else {
			out = binary.LittleEndian.AppendUint32(out, uint32(len(e.DigestValues)))
			for _, d := range e.DigestValues {
				out = binary.LittleEndian.AppendUint16(out, uint16(d.Alg))
				out = append(out, d.Value...)
			}
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(len(e.Data)))
		out = append(out, e.Data...)
	}
	return out
}

// Banks returns the hashes of the banks the log carries: those the Spec
// ID event declares that Go can compute (not SM3), in its order; SHA-1
// for a SHA-1-format log.
func (l *Log) Banks() []crypto.Hash {
	if l.SpecID == nil {
		return []crypto.Hash{crypto.SHA1}
	}
	var hs []crypto.Hash
	for _, a := range l.SpecID.Algorithms {
		if h := a.ID.Hash(); h != 0 {
			hs = append(hs, h)
		}
	}
	return hs
}

// HasBank reports whether the log carries digests in bank h.
func (l *Log) HasBank(h crypto.Hash) bool {
	for _, b := range l.Banks() {
		if b == h {
			return true
		}
	}
	return false
}

// bankNames returns the names of every declared bank, SM3 included.
func (l *Log) bankNames() []string {
	if l.SpecID == nil {
		return []string{AlgSHA1.String()}
	}
	var s []string
	for _, a := range l.SpecID.Algorithms {
		s = append(s, a.ID.String())
	}
	return s
}

// String summarises the log for humans: format, banks, event count,
// padding.
func (l *Log) String() string {
	return fmt.Sprintf("TCG event log (%s): %d events, banks %s, %d bytes + %d padding",
		l.Format, len(l.Events), strings.Join(l.bankNames(), ","), l.Length, l.Padding)
}

// sniffEvents is how many SHA-1-format event headers Sniff checks.
const sniffEvents = 4

// Sniff says whether b looks like a TCG event log, reading only its
// first events: no crypto, no full parse. It returns FormatCryptoAgile
// for a log that opens with a well-formed Spec ID Event03, FormatSHA1
// for one whose first events are plausible TCG_PCClientPCREvent headers
// (PCR 0..23, a PFP event type, a size that fits).
//
// A Confidential Computing event log (internal/eventlog/ccel) has the
// crypto-agile format too; Sniff leaves to ccel.Sniff every log whose
// banks are all SHA-384 or SM3, as TDX and Hygon CSV firmware write
// them, so the two never claim the same input. Parse still reads such a
// log.
func Sniff(b []byte) (format string, ok bool) {
	if len(b) < pcrEventHeaderSize {
		return "", false
	}
	size := binary.LittleEndian.Uint32(b[28:])
	if uint64(size) > uint64(len(b)-pcrEventHeaderSize) {
		return "", false
	}
	data := b[pcrEventHeaderSize : pcrEventHeaderSize+int(size)]
	if binary.LittleEndian.Uint32(b[4:]) == EvNoAction && bytes.HasPrefix(data, []byte(uefi.SpecIDSignature)) {
		spec, err := parseSpecID(data)
		if err != nil || binary.LittleEndian.Uint32(b) != 0 {
			return "", false
		}
		for _, a := range spec.Algorithms {
			if a.ID != AlgSHA384 && a.ID != AlgSM3_256 {
				return FormatCryptoAgile, true
			}
		}
		return "", false
	}
	off := 0
	for i := 0; i < sniffEvents && off < len(b); i++ {
		rest := b[off:]
		if uefi.PaddingStarts(rest) {
			if i == 0 {
				return "", false
			}
			break
		}
		if len(rest) < pcrEventHeaderSize {
			return "", false
		}
		pcr, typ := binary.LittleEndian.Uint32(rest), binary.LittleEndian.Uint32(rest[4:])
		if !uefi.KnownEventType(typ) || pcr >= NumPCRs {
			return "", false
		}
		size := binary.LittleEndian.Uint32(rest[28:])
		if uint64(size) > uint64(len(rest)-pcrEventHeaderSize) {
			return "", false
		}
		off += pcrEventHeaderSize + int(size)
	}
	return FormatSHA1, true
}
