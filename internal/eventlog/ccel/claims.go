package ccel

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/assay-dev/assay/internal/eventlog/uefi"
)

// Claims is the log decoded for policy and for `assay inspect`: every
// event, plus views of the events that say what booted.
//
// Claims are evidence only for a log that Compare has matched to RTMR
// values from a verified quote, and even then only as far as each field
// says. Replay proves that the digests are the ones extended; it does not
// prove the rest of an event. The summary views are built only from
// events that the replay covers (MR index 1..4, not EV_NO_ACTION). Where
// the log itself shows that a digest is the hash of the decoded content
// (data_verified, text_verified), the content is what was measured;
// where it is not (a boot application's device path, a tag's
// description), the digest is the evidence and the text is the
// firmware's unverified description of it.
type Claims struct {
	// Banks are the digest banks of the Spec ID header ("sha384").
	Banks []string `json:"banks"`
	// SecureBoot is the SecureBoot variable as measured into RTMR0: true
	// when its data is the single byte 1, false when it is 0 or the
	// variable is absent (empty data); nil when no verified measurement
	// of it exists or verified measurements disagree.
	SecureBoot *bool `json:"secure_boot,omitempty"`
	// FirmwareBlobs are EV_EFI_PLATFORM_FIRMWARE_BLOB(2) events: firmware
	// volumes measured by the firmware itself.
	FirmwareBlobs []FirmwareBlob `json:"firmware_blobs,omitempty"`
	// SecureBootVariables are the EV_EFI_VARIABLE_DRIVER_CONFIG events
	// (SecureBoot, PK, KEK, db, dbx and any other the firmware logs).
	SecureBootVariables []Variable `json:"secure_boot_variables,omitempty"`
	// BootApplications are EV_EFI_BOOT_SERVICES_APPLICATION events: shim,
	// grub, a UKI or a kernel started by the firmware or by shim.
	BootApplications []Image `json:"boot_applications,omitempty"`
	// KernelCmdline are the measurements of a kernel command line: grub's
	// "kernel_cmdline: " (text_verified when the digest is the text's),
	// the Linux EFI stub's LoadOptions tag, a UKI's .cmdline section (the
	// last two as digests only).
	KernelCmdline []Measurement `json:"kernel_cmdline,omitempty"`
	// Initrd are the measurements of an initial ramdisk: the Linux EFI
	// stub's initrd tag, a UKI's .initrd section, or grub's linuxefi
	// "Initrd" event; digests of the ramdisk, which is not in the log.
	Initrd []Measurement `json:"initrd,omitempty"`
	// GrubCommands are grub's "grub_cmd" EV_IPL events, in order.
	GrubCommands []Measurement `json:"grub_commands,omitempty"`
	// Separators are EV_SEPARATOR events.
	Separators []Separator `json:"separators,omitempty"`
	// AAEL are the Confidential Containers attestation agent's entries.
	AAEL []AAELEntry `json:"aael,omitempty"`
	// Events lists every event after the Spec ID header, in log order.
	Events []EventClaim `json:"events"`
}

// EventClaim is one event. Every event has the first fields; the decoded
// ones are present only for the event types whose data PFP 1.06 (or the
// producer named in the field) defines, and only when that data parses.
type EventClaim struct {
	Num  int    `json:"num"`
	Type string `json:"type"`
	MR   uint32 `json:"mr"`
	// RTMR is the register the event extends, absent for MR index 0 and
	// above 4.
	RTMR *int `json:"rtmr,omitempty"`
	// Replayed is false for events the replay does not extend
	// (EV_NO_ACTION, MR index 0 or above 4): nothing vouches for them.
	Replayed bool `json:"replayed"`
	// Digest is the SHA-384 digest, hex; OtherDigests has any other bank.
	Digest       string            `json:"digest,omitempty"`
	OtherDigests map[string]string `json:"other_digests,omitempty"`
	Size         int               `json:"size"`
	// DataVerified: the SHA-384 digest is the hash of this event's data,
	// or of the decoded part shown (text, variable data), so what is
	// shown is what was measured.
	DataVerified bool `json:"data_verified"`

	Text         string        `json:"text,omitempty"`
	TagID        *uint32       `json:"tag_id,omitempty"`
	Variable     *Variable     `json:"variable,omitempty"`
	Image        *Image        `json:"image,omitempty"`
	FirmwareBlob *FirmwareBlob `json:"firmware_blob,omitempty"`
	Separator    *Separator    `json:"separator,omitempty"`
	AAEL         *AAELEntry    `json:"aael,omitempty"`
}

// In the decoded types below, Num and RTMR repeat the event's number and
// register so that the summary views stand alone; RTMR is -1 for an event
// that names no RTMR (never the case in the summaries).

// FirmwareBlob is a UEFI_PLATFORM_FIRMWARE_BLOB(2).
type FirmwareBlob struct {
	Num         int    `json:"num"`
	RTMR        int    `json:"rtmr"`
	Description string `json:"description,omitempty"` // BlobDescription (BLOB2 only)
	Base        uint64 `json:"base"`                  // BlobBase
	Length      uint64 `json:"length"`                // BlobLength
	Digest      string `json:"digest"`                // SHA-384 of the blob, which is not in the log
}

// Variable is a UEFI_VARIABLE_DATA.
type Variable struct {
	Num      int    `json:"num"`
	RTMR     int    `json:"rtmr"`
	Vendor   string `json:"vendor_guid"` // VariableName
	Name     string `json:"name"`        // UnicodeName
	DataSize int    `json:"data_size"`   // VariableDataLength
	// Enabled is set for SecureBoot: its data is the single byte 1.
	Enabled *bool `json:"enabled,omitempty"`
	// SignatureLists and Signatures count the EFI_SIGNATURE_LISTs of PK,
	// KEK, db and dbx, when the data is a well-formed list sequence.
	SignatureLists *int   `json:"signature_lists,omitempty"`
	Signatures     *int   `json:"signatures,omitempty"`
	Digest         string `json:"digest"`
	DataVerified   bool   `json:"data_verified"`
}

// Image is a UEFI_IMAGE_LOAD_EVENT. Its digest is the image's PE
// Authenticode hash (PFP 1.06 section 10.4.4): compare it with the hash
// of the expected shim, grub, UKI or kernel. The device path and the
// addresses are the firmware's description, not covered by the digest.
type Image struct {
	Num        int    `json:"num"`
	RTMR       int    `json:"rtmr"`
	Digest     string `json:"digest"`
	DevicePath string `json:"device_path,omitempty"` // UEFI 2.10 section 10.6 text form
	Length     uint64 `json:"image_length"`          // ImageLengthInMemory
}

// Measurement is a measured item named by an event: its digest, the
// text the event gives for it, and whether the digest is that text's.
type Measurement struct {
	Num  int `json:"num"`
	RTMR int `json:"rtmr"`
	// Source names the producer: "grub", "linux-efi-stub", "uki".
	Source string `json:"source"`
	Text   string `json:"text,omitempty"`
	Digest string `json:"digest"`
	// TextVerified: Digest is the SHA-384 of Text, so Text is what was
	// measured. False with a Text means the text is a description only.
	TextVerified bool `json:"text_verified"`
}

// Separator is an EV_SEPARATOR. Its data is 0x00000000, or an error value
// when the firmware hit a measurement error (PFP 1.06 section 10.4.1).
type Separator struct {
	Num   int    `json:"num"`
	RTMR  int    `json:"rtmr"`
	Value string `json:"value"` // event data, hex
	Error bool   `json:"error"`
}

// AAELEntry is a Confidential Containers attestation agent event log
// entry: an EV_EVENT_TAG whose taggedEventID is "AAEL" (0x4141454C) and
// whose data is "domain operation content" (CoCo guest-components
// attestation-agent event log specification). Domain and operation
// contain no white space; content is the rest of the line.
type AAELEntry struct {
	Num       int    `json:"num"`
	RTMR      int    `json:"rtmr"`
	Domain    string `json:"domain"`
	Operation string `json:"operation"`
	Content   string `json:"content"`
	// ContentJSON is Content when it is valid JSON (CoCo events, whose
	// content the specification requires to be JSON).
	ContentJSON  json.RawMessage `json:"content_json,omitempty"`
	DataVerified bool            `json:"data_verified"`
}

// Tagged event IDs this package names.
const (
	// TagAAEL is the CoCo attestation agent's taggedEventID, "AAEL".
	TagAAEL uint32 = 0x4141454C
	// TagLinuxLoadOptions and TagLinuxInitrd are the Linux EFI stub's
	// tags for the kernel command line (LoadOptions) and the initrd
	// (Linux drivers/firmware/efi/libstub/efistub.h).
	TagLinuxLoadOptions uint32 = 0x8F3B22ED
	TagLinuxInitrd      uint32 = 0x8F3B22EC
)

// grub's EV_IPL prefixes: upstream grub measures the string after the
// prefix ("grub_cmd: ", "kernel_cmdline: ", "module_cmdline: "); the
// distribution grubs of RHEL and its derivatives write "grub_cmd " and
// "grub_kernel_cmdline " and measure the string after it with its NUL.
var grubPrefixes = []struct{ prefix, kind string }{
	{"grub_cmd: ", "cmd"},
	{"grub_cmd ", "cmd"},
	{"kernel_cmdline: ", "cmdline"},
	{"grub_kernel_cmdline ", "cmdline"},
	{"module_cmdline: ", "module"},
}

// Claims decodes the log. It never fails: what does not parse stays an
// event with its type, MR index, digest and size.
func (l *Log) Claims() *Claims {
	c := &Claims{Banks: l.Banks(), Events: make([]EventClaim, 0, len(l.Events))}
	var secureBoot []bool
	var ukiSection string // the UKI section whose name event came last
	for i := range l.Events {
		e := &l.Events[i]
		ec := eventClaim(e)
		c.Events = append(c.Events, ec)
		if !ec.Replayed {
			continue
		}
		rtmr := *ec.RTMR
		switch {
		case ec.FirmwareBlob != nil:
			c.FirmwareBlobs = append(c.FirmwareBlobs, *ec.FirmwareBlob)
		case ec.Variable != nil && e.Type == EvEFIVariableDriverConfig:
			c.SecureBootVariables = append(c.SecureBootVariables, *ec.Variable)
			if v := ec.Variable; v.Enabled != nil && v.DataVerified {
				secureBoot = append(secureBoot, *v.Enabled)
			}
		case ec.Image != nil && e.Type == EvEFIBootServicesApplication:
			c.BootApplications = append(c.BootApplications, *ec.Image)
		case ec.Separator != nil:
			c.Separators = append(c.Separators, *ec.Separator)
		case ec.AAEL != nil:
			c.AAEL = append(c.AAEL, *ec.AAEL)
		case ec.TagID != nil && *ec.TagID == TagLinuxLoadOptions:
			c.KernelCmdline = append(c.KernelCmdline, Measurement{Num: e.Num, RTMR: rtmr, Source: "linux-efi-stub", Digest: ec.Digest})
		case ec.TagID != nil && *ec.TagID == TagLinuxInitrd:
			c.Initrd = append(c.Initrd, Measurement{Num: e.Num, RTMR: rtmr, Source: "linux-efi-stub", Digest: ec.Digest})
		case e.Type == EvIPL && ec.Text != "":
			c.addIPL(e, &ec, rtmr, &ukiSection)
		}
	}
	if len(secureBoot) > 0 {
		on := secureBoot[0]
		agree := true
		for _, v := range secureBoot[1:] {
			agree = agree && v == on
		}
		if agree {
			c.SecureBoot = &on
		}
	}
	return c
}

// addIPL files an EV_IPL text event under the grub or UKI view it
// belongs to.
func (c *Claims) addIPL(e *Event, ec *EventClaim, rtmr int, ukiSection *string) {
	d := e.Digest(AlgSHA384)
	for _, p := range grubPrefixes {
		rest, ok := strings.CutPrefix(ec.Text, p.prefix)
		if !ok {
			continue
		}
		m := Measurement{Num: e.Num, RTMR: rtmr, Source: "grub", Text: rest, Digest: ec.Digest, TextVerified: textHashIs(d, rest)}
		switch p.kind {
		case "cmd":
			c.GrubCommands = append(c.GrubCommands, m)
		case "cmdline":
			c.KernelCmdline = append(c.KernelCmdline, m)
		}
		return
	}
	if ec.Text == "grub_linuxefi Initrd" {
		c.Initrd = append(c.Initrd, Measurement{Num: e.Num, RTMR: rtmr, Source: "grub", Digest: ec.Digest})
		return
	}
	// systemd-stub measures each UKI section twice under the section's
	// UTF-16 name: first the ASCII name with its NUL (so data_verified),
	// then the section's contents.
	name := *ukiSection
	*ukiSection = ""
	if !strings.HasPrefix(ec.Text, ".") {
		return
	}
	if ec.DataVerified {
		*ukiSection = ec.Text
		return
	}
	if ec.Text != name {
		return
	}
	m := Measurement{Num: e.Num, RTMR: rtmr, Source: "uki", Digest: ec.Digest}
	switch name {
	case ".cmdline":
		c.KernelCmdline = append(c.KernelCmdline, m)
	case ".initrd":
		c.Initrd = append(c.Initrd, m)
	}
}

// eventClaim decodes one event.
func eventClaim(e *Event) EventClaim {
	ec := EventClaim{
		Num:      e.Num,
		Type:     e.Type.String(),
		MR:       e.MRIndex,
		Replayed: e.extends(),
		Size:     len(e.Data),
	}
	rtmr, hasRTMR := e.RTMR()
	if hasRTMR {
		ec.RTMR = &rtmr
	} else {
		rtmr = -1
	}
	d := e.Digest(AlgSHA384)
	ec.Digest = hex.EncodeToString(d)
	for _, x := range e.Digests {
		if x.Alg != AlgSHA384 {
			if ec.OtherDigests == nil {
				ec.OtherDigests = map[string]string{}
			}
			ec.OtherDigests[x.Alg.String()] = hex.EncodeToString(x.Value)
		}
	}
	ec.DataVerified = hashIs(d, e.Data)

	switch e.Type {
	case EvEFIVariableDriverConfig, EvEFIVariableBoot, EvEFIVariableBoot2, EvEFIVariableAuthority:
		if v, ok := uefi.ParseVariableData(e.Data); ok {
			// EDK2 measures only VariableData for EV_EFI_VARIABLE_BOOT.
			ec.DataVerified = ec.DataVerified || hashIs(d, v.Data)
			ec.Variable = variableClaim(e, rtmr, v, ec)
		}
	case EvEFIBootServicesApplication, EvEFIBootServicesDriver, EvEFIRuntimeServicesDriver:
		if il, ok := uefi.ParseImageLoad(e.Data); ok {
			img := &Image{Num: e.Num, RTMR: rtmr, Digest: ec.Digest, Length: il.Length}
			img.DevicePath, _ = uefi.DevicePathText(il.DevicePath)
			ec.Image = img
		}
	case EvEFIPlatformFirmwareBlob, EvEFIPlatformFirmwareBlob2:
		if desc, base, n, ok := uefi.FirmwareBlob(uint32(e.Type), e.Data); ok {
			ec.FirmwareBlob = &FirmwareBlob{Num: e.Num, RTMR: rtmr, Description: desc, Base: base, Length: n, Digest: ec.Digest}
			ec.Text = desc
		}
	case EvEFIHandoffTables2:
		ec.Text, _ = uefi.HandoffTablesDescription(e.Data)
	case EvSeparator:
		if len(e.Data) == 4 {
			ec.Separator = &Separator{Num: e.Num, RTMR: rtmr, Value: hex.EncodeToString(e.Data), Error: !bytes.Equal(e.Data, []byte{0, 0, 0, 0})}
		}
	case EvEventTag:
		if t, ok := uefi.ParseTaggedEvent(e.Data); ok {
			id := t.ID
			ec.TagID = &id
			ec.Text, _ = uefi.ASCIIText(t.Data)
			if id == TagAAEL {
				ec.AAEL = aaelEntry(e, rtmr, t.Data, ec.DataVerified)
			}
		} else {
			// Some firmware logs the bare description without the
			// TCG_PCClientTaggedEvent header; show it, claim nothing.
			ec.Text, _ = uefi.ASCIIText(e.Data)
		}
	case EvNoAction:
		// EV_NO_ACTION data opens with a 16-byte signature ("Spec ID
		// Event03", "SP800-155 Event3", "StartupLocality").
		if len(e.Data) >= 16 {
			ec.Text, _ = uefi.ASCIIText(e.Data[:16])
		}
	case EvPostCode, EvAction, EvEFIAction, EvIPL, EvPlatformConfigFlags, EvSCRTMVersion, EvOmitBootDeviceEvents:
		if s, ok := uefi.Text(e.Data); ok {
			ec.Text = s
			ec.DataVerified = ec.DataVerified || textHashIs(d, s)
			for _, p := range grubPrefixes {
				if rest, ok := strings.CutPrefix(s, p.prefix); ok {
					ec.DataVerified = ec.DataVerified || textHashIs(d, rest)
				}
			}
		}
	}
	return ec
}

func variableClaim(e *Event, rtmr int, v uefi.VariableData, ec EventClaim) *Variable {
	vc := &Variable{
		Num:          e.Num,
		RTMR:         rtmr,
		Vendor:       v.Vendor.String(),
		Name:         v.Name,
		DataSize:     len(v.Data),
		Digest:       ec.Digest,
		DataVerified: ec.DataVerified,
	}
	global := v.Vendor == uefi.GlobalVariable
	switch {
	case global && v.Name == "SecureBoot":
		// UEFI 2.10 section 3.3: SecureBoot is 1 when secure boot is
		// enabled; firmware measures empty data when it is absent.
		switch len(v.Data) {
		case 0:
			off := false
			vc.Enabled = &off
		case 1:
			on := v.Data[0] == 1
			vc.Enabled = &on
		}
	case global && (v.Name == "PK" || v.Name == "KEK"),
		v.Vendor == uefi.ImageSecurityDatabase && (v.Name == "db" || v.Name == "dbx" || v.Name == "dbt" || v.Name == "dbr"):
		if lists, sigs, ok := signatureCounts(v.Data); ok {
			vc.SignatureLists, vc.Signatures = &lists, &sigs
		}
	}
	return vc
}

// aaelEntry splits an AAEL entry at its first two spaces; nil when it
// does not have three fields.
func aaelEntry(e *Event, rtmr int, data []byte, verified bool) *AAELEntry {
	s, ok := uefi.ASCIIText(data)
	if !ok || len(s) != len(data) {
		return nil
	}
	domain, rest, ok1 := strings.Cut(s, " ")
	op, content, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || domain == "" || op == "" {
		return nil
	}
	a := &AAELEntry{Num: e.Num, RTMR: rtmr, Domain: domain, Operation: op, Content: content, DataVerified: verified}
	if json.Valid([]byte(content)) {
		a.ContentJSON = json.RawMessage(content)
	}
	return a
}

// textHashIs reports whether digest is the SHA-384 of s, with or without
// its C terminator: upstream grub and systemd-stub hash the string alone,
// the RHEL grub hashes the NUL too.
func textHashIs(digest []byte, s string) bool {
	return hashIs(digest, []byte(s)) || hashIs(digest, append([]byte(s), 0))
}

// hashIs reports whether digest is the SHA-384 of b.
func hashIs(digest, b []byte) bool {
	if len(digest) != 48 {
		return false
	}
	h := sha384(b)
	return bytes.Equal(h[:], digest)
}

// signatureCounts counts the EFI_SIGNATURE_LISTs of a signature database
// and the signatures in them, as decoded by uefi.SignatureLists; ok is
// false when the lists do not tile the data exactly.
func signatureCounts(b []byte) (lists, sigs int, ok bool) {
	lists, entries, ok := uefi.SignatureLists(b)
	return lists, len(entries), ok
}
