package bootchain

import (
	"bytes"
	"crypto"
	_ "crypto/sha3" // SHA3 banks of a TPM log
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Components are the parts of the new boot chain that replace the
// reference boot's. The zero value replaces nothing: the prediction is
// then the reference log's own replay.
type Components struct {
	// EFI are the boot applications in load order: EFI[i] replaces the
	// digest of the reference log's i-th EV_EFI_BOOT_SERVICES_APPLICATION
	// event (shim, grub, a kernel loaded by grub through LoadImage, ...).
	// A nil entry keeps the logged digest; entries beyond len(EFI) are
	// kept too. More entries than the log has events is ErrInput.
	EFI []*Image
	// Cmdline, when not nil, is the kernel command line as grub measures
	// it: the arguments of grub's "linux" command, the kernel's path first
	// ("/vmlinuz-6.8.0 root=... ro"), which is also the claim
	// event_log.kernel_cmdline. It replaces grub's command line event,
	// grub's "linux" command event and the Linux EFI stub's LoadOptions
	// event after them (package documentation: "Command line
	// conventions"). A log with none of these is ErrInput; one that
	// measures the command line otherwise (a UKI, LoadOptions no grub
	// event spells out) is ErrUnsupported.
	Cmdline *string
	// Initrd, when not nil, is the initial ramdisk: it replaces the
	// digest of the Linux EFI stub's "Linux initrd" event, of the RHEL
	// grub's "grub_linuxefi Initrd" event, and of upstream grub's
	// measurement of the file its "initrd" command named. A log with none
	// of these is ErrInput.
	Initrd []byte
}

// Prediction is the registers a boot with the new components should
// produce.
type Prediction struct {
	// Format is "tcg" (TPM event log) or "ccel" (TDX CC event log).
	Format string `json:"format"`
	// Registers are every register the reference log extends, by bank
	// then index.
	Registers []Register `json:"registers"`
	// Rebuilt are the events whose digest a component gave, in log order.
	Rebuilt []Rebuilt `json:"rebuilt_events"`
}

// Register is one predicted PCR or RTMR.
type Register struct {
	// Name is "pcr4" or "rtmr1".
	Name  string `json:"register"`
	Index int    `json:"index"`
	// Bank is the PCR bank ("sha1", "sha256", "sha384"); "sha384" for an
	// RTMR.
	Bank  string `json:"bank"`
	Value Hex    `json:"value"`
	// From is "prediction" for the boot-loader registers (PCR 4, 8, 9;
	// RTMR1, RTMR2) and "reference_log" for the others, whose events the
	// firmware or the running system writes and which are the reference
	// log's replay unchanged.
	From string `json:"from"`
	// Changed is whether Value differs from the reference log's replay.
	Changed bool `json:"changed"`
}

// Rebuilt is one event whose digest comes from a component.
type Rebuilt struct {
	Num      int    `json:"num"`
	Register string `json:"register"`
	Type     string `json:"type"`
	// Component is "efi[i]" (i from 0), "cmdline" or "initrd".
	Component string `json:"component"`
	// Text is the event's new text, for grub's text events.
	Text string `json:"text,omitempty"`
	// Changed is whether the new digest differs from the logged one.
	Changed bool `json:"changed"`
}

// Hex is a byte string that marshals to lowercase hex.
type Hex []byte

// MarshalText implements encoding.TextMarshaler.
func (h Hex) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

// PFP 1.06 Table 9 event types the model rebuilds.
const (
	evEventTag          = 0x00000006
	evIPL               = 0x0000000d
	evBootServicesApp   = 0x80000003
	tagLinuxLoadOptions = 0x8F3B22ED // Linux drivers/firmware/efi/libstub/efistub.h
	tagLinuxInitrd      = 0x8F3B22EC
)

// Log is a boot event log as the prediction reads it. internal/cli
// builds it from the TPM and CC event log parsers (internal/eventlog/tcg,
// ccel): measure packages use the standard library alone.
type Log struct {
	// Format is "tcg" (TPM PCRs) or "ccel" (TDX RTMRs).
	Format string
	// Banks are the digest banks replayed: those of the log Go can
	// compute; SHA-384 for a CC log.
	Banks []crypto.Hash
	// Events are the log's events in order.
	Events []Event
	// Start, when not nil, gives the value a register's replay starts
	// from in a bank; nil, or a nil result: zero. (A TPM's PCR 0 starts
	// at its startup locality, PFP 1.06 section 10.4.5.3.)
	Start func(h crypto.Hash, register int) []byte
}

// Event is one event of a Log.
type Event struct {
	// Num is the event's number in the log, for messages.
	Num int
	// Register is the PCR (tcg) or the RTMR, 0 to 3 (ccel), the event
	// extends; -1 when it extends none (EV_NO_ACTION, TDX MRTD, indexes
	// out of range).
	Register int
	// Type is the eventType (TCG PC Client PFP 1.06 Table 9).
	Type uint32
	// Data is the event data.
	Data []byte
	// Digests are the event's digests by bank.
	Digests map[crypto.Hash][]byte
}

// change is a rebuilt event: its new digest in every bank.
type change struct {
	i               int // index in the log's events
	component, text string
	digests         map[crypto.Hash][]byte
	changedFromLog  bool
}

// grub's EV_IPL text events (grub-core/commands/tpm.c upstream; the
// RHEL grub's tpm patches): the event data is the prefix, the text and a
// NUL. Upstream grub's digest is of the text alone. The RHEL grub hashes
// a command with its NUL but a command line without it — as the
// corpus logs of RHEL 8 (GCE) and Alibaba Cloud Linux 3 (TDX) show.
var grubEvents = []struct {
	prefix, kind string
	nul          bool
}{
	{"kernel_cmdline: ", "cmdline", false},
	{"grub_kernel_cmdline ", "cmdline", false},
	{"grub_cmd: ", "cmd", false},
	{"grub_cmd ", "cmd", true},
}

// grubLoadOptionsPrefix is what grub puts before its command line in the
// LoadOptions of a kernel it starts through LoadImage/StartImage (grub
// 2.12, Ubuntu 24.04): "BOOT_IMAGE=" and the kernel path, as UTF-16LE
// without a NUL, which the Linux EFI stub measures.
const grubLoadOptionsPrefix = "BOOT_IMAGE="

func digestsOf(banks []crypto.Hash, parts ...[]byte) map[crypto.Hash][]byte {
	m := make(map[crypto.Hash][]byte, len(banks))
	for _, h := range banks {
		w := h.New()
		for _, p := range parts {
			w.Write(p)
		}
		m[h] = w.Sum(nil)
	}
	return m
}

func utf16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func sameDigests(a, b map[crypto.Hash][]byte) bool {
	for h, d := range a {
		if !bytes.Equal(d, b[h]) {
			return false
		}
	}
	return true
}

// rebuilder walks a log and records the changes the components make.
type rebuilder struct {
	evs     []Event
	banks   []crypto.Hash
	c       Components
	regName func(int) string
	changes []change
}

// model checks that the model applied to the logged content gives the
// logged digest, then records the change to the new content.
func (r *rebuilder) model(i int, component, what string, oldParts, newParts [][]byte, text string) error {
	e := &r.evs[i]
	if old := digestsOf(r.banks, oldParts...); !sameDigests(old, e.Digests) {
		return fmt.Errorf("%w: event #%d (%s) is not the %s digest the model gives for what the log says was measured", ErrUnsupported, e.Num, r.regName(e.Register), what)
	}
	r.set(i, component, digestsOf(r.banks, newParts...), text)
	return nil
}

func (r *rebuilder) set(i int, component string, d map[crypto.Hash][]byte, text string) {
	e := &r.evs[i]
	r.changes = append(r.changes, change{i: i, component: component, text: text, digests: d,
		changedFromLog: !sameDigests(d, e.Digests)})
}

// eventText is the ASCII text of an event's data up to its first NUL.
func eventText(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func (r *rebuilder) run() error {
	c := r.c
	// grub measures its "linux" command as the arguments joined by
	// spaces, and the command line it gives the kernel with those
	// arguments quoted (grubArgv): the logged command lines, unquoted,
	// recognise the command.
	oldArgs := map[string]bool{}
	var newArgv []string
	if c.Cmdline != nil {
		var ok bool
		if newArgv, ok = grubArgv(*c.Cmdline); !ok {
			return fmt.Errorf("%w: command line %q is not one grub writes (unbalanced quotes, or quoting grub would write otherwise)", ErrInput, *c.Cmdline)
		}
	}
	for _, e := range r.evs {
		if e.Register < 0 || e.Type != evIPL {
			continue
		}
		s := eventText(e.Data)
		for _, g := range grubEvents {
			if rest, ok := strings.CutPrefix(s, g.prefix); ok && g.kind == "cmdline" {
				if argv, ok := grubArgv(rest); ok {
					oldArgs[strings.Join(argv, " ")] = true
				}
			}
		}
	}
	var (
		app           int
		lastCmdline   *string
		initrdPath    string
		cmdlineEvents int
		initrdEvents  int
		uki           string
	)
	for i, e := range r.evs {
		if e.Register < 0 {
			continue
		}
		switch e.Type {
		case evBootServicesApp:
			if app < len(c.EFI) && c.EFI[app] != nil {
				d := make(map[crypto.Hash][]byte, len(r.banks))
				for _, h := range r.banks {
					d[h] = c.EFI[app].Digest(h)
				}
				r.set(i, fmt.Sprintf("efi[%d]", app), d, "")
			}
			app++
		case evEventTag:
			id, ok := taggedEventID(e.Data)
			if !ok {
				continue
			}
			switch {
			case id == tagLinuxLoadOptions && c.Cmdline != nil:
				if lastCmdline == nil {
					return fmt.Errorf("%w: event #%d (%s) measures the kernel's LoadOptions, which no grub command line event before it spells out", ErrUnsupported, e.Num, r.regName(e.Register))
				}
				cmdlineEvents++
				if err := r.model(i, "cmdline", "LoadOptions (UTF-16LE \"BOOT_IMAGE=\" and grub's command line)",
					[][]byte{utf16LE(grubLoadOptionsPrefix + *lastCmdline)}, [][]byte{utf16LE(grubLoadOptionsPrefix + *c.Cmdline)}, ""); err != nil {
					return err
				}
			case id == tagLinuxInitrd && c.Initrd != nil:
				initrdEvents++
				r.set(i, "initrd", digestsOf(r.banks, c.Initrd), "")
			}
		case evIPL:
			s := eventText(e.Data)
			if isUKISection(e.Data) {
				uki = s // systemd-stub's UKI section events
			}
			switch {
			case c.Initrd != nil && (s == "grub_linuxefi Initrd" || (initrdPath != "" && s == initrdPath)):
				initrdEvents++
				r.set(i, "initrd", digestsOf(r.banks, c.Initrd), "")
				continue
			}
			for _, g := range grubEvents {
				rest, ok := strings.CutPrefix(s, g.prefix)
				if !ok {
					continue
				}
				var nul []byte
				if g.nul {
					nul = []byte{0}
				}
				switch g.kind {
				case "cmdline":
					old := rest
					lastCmdline = &old
					if c.Cmdline == nil {
						break
					}
					cmdlineEvents++
					if err := r.model(i, "cmdline", "grub command line", [][]byte{[]byte(old), nul}, [][]byte{[]byte(*c.Cmdline), nul}, *c.Cmdline); err != nil {
						return err
					}
				case "cmd":
					word, args, _ := strings.Cut(rest, " ")
					if (word == "initrd" || word == "initrdefi") && !strings.Contains(args, " ") {
						initrdPath = args
					}
					if c.Cmdline == nil || (word != "linux" && word != "linuxefi") || !oldArgs[args] {
						break
					}
					cmdlineEvents++
					text := word + " " + strings.Join(newArgv, " ")
					if err := r.model(i, "cmdline", "grub command", [][]byte{[]byte(rest), nul}, [][]byte{[]byte(text), nul}, text); err != nil {
						return err
					}
				}
				break
			}
		}
	}
	if app < len(c.EFI) {
		return fmt.Errorf("%w: %d EFI applications given, the reference log has %d EV_EFI_BOOT_SERVICES_APPLICATION events", ErrInput, len(c.EFI), app)
	}
	if c.Cmdline != nil && cmdlineEvents == 0 {
		if uki != "" {
			return fmt.Errorf("%w: the reference log measures a UKI's sections, not a command line grub or the Linux EFI stub logged", ErrUnsupported)
		}
		return fmt.Errorf("%w: the reference log has no kernel command line event of grub or the Linux EFI stub", ErrInput)
	}
	if c.Initrd != nil && initrdEvents == 0 {
		return fmt.Errorf("%w: the reference log has no initrd event of grub or the Linux EFI stub", ErrInput)
	}
	return nil
}

// grubArgv splits a command line as grub writes it for the kernel back
// into the arguments of its "linux" command, and reports whether grub
// would write exactly s for them. grub_create_loader_cmdline
// (grub-core/lib/cmdline.c) joins the arguments with single spaces,
// puts a backslash before each backslash, single and double quote, and
// double quotes around an argument that contains a space.
func grubArgv(s string) ([]string, bool) {
	var argv []string
	var cur strings.Builder
	quoted, escaped, any := false, false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case escaped:
			cur.WriteByte(ch)
			escaped = false
		case ch == '\\':
			escaped, any = true, true
		case ch == '"':
			quoted, any = !quoted, true
		case ch == ' ' && !quoted:
			argv = append(argv, cur.String())
			cur.Reset()
			any = false
		default:
			cur.WriteByte(ch)
			any = true
		}
	}
	if quoted || escaped {
		return nil, false
	}
	if any || cur.Len() > 0 || len(argv) > 0 {
		argv = append(argv, cur.String())
	}
	return argv, grubCmdline(argv) == s
}

// grubCmdline is grub_create_loader_cmdline's quoting of argv.
func grubCmdline(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		space := strings.ContainsRune(a, ' ')
		if space {
			b.WriteByte('"')
		}
		for j := 0; j < len(a); j++ {
			if c := a[j]; c == '\\' || c == '\'' || c == '"' {
				b.WriteByte('\\')
			}
			b.WriteByte(a[j])
		}
		if space {
			b.WriteByte('"')
		}
	}
	return b.String()
}

// taggedEventID returns the taggedEventID of a TCG_PCClientTaggedEvent
// (PFP 1.06 section 10.4.2.1) whose taggedEventDataSize covers the rest
// of b.
func taggedEventID(b []byte) (uint32, bool) {
	if len(b) < 8 || uint64(binary.LittleEndian.Uint32(b[4:])) != uint64(len(b)-8) {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

// isUKISection reports whether b is a UTF-16LE name starting with "." —
// how systemd-stub names the UKI section it measures (".linux",
// ".cmdline").
func isUKISection(b []byte) bool {
	return len(b) >= 4 && b[0] == '.' && b[1] == 0 && b[2] != 0 && b[3] == 0
}

// eventTypeNames names the event types the model rebuilds (PFP 1.06
// Table 9).
var eventTypeNames = map[uint32]string{
	evEventTag:        "EV_EVENT_TAG",
	evIPL:             "EV_IPL",
	evBootServicesApp: "EV_EFI_BOOT_SERVICES_APPLICATION",
}

// formats are the register names and the boot-loader registers of each
// log format: TPM PCR 4 (boot manager code) and PCRs 8 and 9 (the OS
// loader's: grub's commands and files) (TCG PC Client PFP 1.06 section
// 3.3.4); TDX RTMR1 and RTMR2, where TDVF maps PCR 2-6 and 8-15 (UEFI
// 2.10 section 38.4.1).
var formats = map[string]struct {
	prefix    string
	predicted []int
}{
	"tcg":  {"pcr", []int{4, 8, 9}},
	"ccel": {"rtmr", []int{1, 2}},
}

// Predict predicts the registers of a boot like l's with c's components
// in place of the logged ones. The boot-loader registers (PCR 4, 8, 9;
// RTMR1, RTMR2) are the prediction; the others are l's replay. An event
// the components would rebuild in another register is ErrUnsupported.
// A register with an event lacking a bank's digest is left out of that
// bank.
func Predict(l *Log, c Components) (*Prediction, error) {
	f, ok := formats[l.Format]
	if !ok {
		return nil, fmt.Errorf("%w: log format %q, want tcg or ccel", ErrInput, l.Format)
	}
	if len(l.Banks) == 0 {
		return nil, fmt.Errorf("%w: the log has no bank to replay", ErrUnsupported)
	}
	for _, h := range l.Banks {
		if !h.Available() {
			return nil, fmt.Errorf("%w: bank %v cannot be computed", ErrInput, h)
		}
	}
	r := &rebuilder{evs: l.Events, banks: l.Banks, c: c, regName: func(n int) string { return f.prefix + strconv.Itoa(n) }}
	if err := r.run(); err != nil {
		return nil, err
	}
	next := slices.Clone(l.Events)
	p := &Prediction{Format: l.Format, Rebuilt: []Rebuilt{}}
	for _, ch := range r.changes {
		e := &next[ch.i]
		if !slices.Contains(f.predicted, e.Register) {
			return nil, fmt.Errorf("%w: event #%d rebuilt from %s extends %s, which is not a boot-loader register", ErrUnsupported, e.Num, ch.component, r.regName(e.Register))
		}
		e.Digests = ch.digests
		p.Rebuilt = append(p.Rebuilt, Rebuilt{Num: e.Num, Register: r.regName(e.Register), Type: eventTypeNames[e.Type], Component: ch.component, Text: ch.text, Changed: ch.changedFromLog})
	}
	for _, h := range l.Banks {
		before, after := l.replay(l.Events, h), l.replay(next, h)
		for _, n := range slices.Sorted(maps.Keys(after)) {
			from := "reference_log"
			if slices.Contains(f.predicted, n) {
				from = "prediction"
			}
			p.Registers = append(p.Registers, Register{Name: r.regName(n), Index: n, Bank: bankName(h), Value: after[n], From: from, Changed: !bytes.Equal(after[n], before[n])})
		}
	}
	return p, nil
}

// replay extends each register, R = H(R || digest), for the events that
// name one, in order (TPM 2.0 Part 1 section 17.2; TDX RTMRs the same
// with SHA-384). A register with an event lacking a digest in h is left
// out.
func (l *Log) replay(evs []Event, h crypto.Hash) map[int][]byte {
	out := map[int][]byte{}
	missing := map[int]bool{}
	w := h.New()
	for _, e := range evs {
		if e.Register < 0 || missing[e.Register] {
			continue
		}
		d := e.Digests[h]
		if len(d) != h.Size() {
			missing[e.Register] = true
			delete(out, e.Register)
			continue
		}
		prev, ok := out[e.Register]
		if !ok && l.Start != nil {
			prev = l.Start(h, e.Register)
		}
		if len(prev) != h.Size() {
			prev = make([]byte, h.Size())
		}
		w.Reset()
		w.Write(prev)
		w.Write(d)
		out[e.Register] = w.Sum(nil)
	}
	return out
}

// bankName is the TPM algorithm name of a bank (TCG Algorithm Registry:
// sha1, sha256, sha384, sha512, sha3_256, ...), from Go's ("SHA-256",
// "SHA3-256").
func bankName(h crypto.Hash) string {
	s := strings.Replace(h.String(), "SHA3-", "sha3_", 1)
	return strings.ToLower(strings.ReplaceAll(s, "-", ""))
}
