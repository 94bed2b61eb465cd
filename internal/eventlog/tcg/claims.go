package tcg

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/assay-dev/assay/internal/eventlog/uefi"
)

// Claims is the log decoded for policy and for `assay inspect`: every
// event, plus views of the events that say what booted.
//
// Claims are evidence only for a log that Compare has matched to PCR
// values from a verified quote, and even then only as far as each field
// says. Replay proves that the digests are the ones extended; it does not
// prove the rest of an event. The summary views are built only from
// events that the replay covers (PCR 0..23, not EV_NO_ACTION). Where the
// log itself shows that the digests are the hash of the decoded content
// (data_verified, text_verified: every digest of the event, in every
// bank, must agree), the content is what was measured; where it is not (a
// boot application's device path, a firmware blob's address, a file grub
// loaded), the digest is the evidence and the text is the firmware's
// unverified description of it.
type Claims struct {
	// Format is "tcg-eventlog" (crypto-agile) or "tcg-eventlog-sha1".
	Format string `json:"format"`
	// Banks are the digest banks the log declares ("sha1", "sha256").
	Banks []string `json:"banks"`
	// StartupLocality is the locality of TPM2_Startup from the
	// StartupLocality EV_NO_ACTION event (PCR 0 starts at it), when
	// the log has one.
	StartupLocality *int `json:"startup_locality,omitempty"`
	// SecureBoot is the SecureBoot variable as measured into PCR 7: true
	// when its data is the single byte 1, false when it is 0 or the
	// variable is absent (empty data); nil when no data_verified
	// measurement of it exists or such measurements disagree.
	SecureBoot *bool `json:"secure_boot,omitempty"`
	// SecureBootVariables are the EV_EFI_VARIABLE_DRIVER_CONFIG events of
	// PCR 7: SecureBoot, PK, KEK, db, dbx and any other the firmware
	// logs.
	SecureBootVariables []Variable `json:"secure_boot_variables,omitempty"`
	// SecureBootAuthorities are the EV_EFI_VARIABLE_AUTHORITY events of
	// PCR 7: the db (or shim MOK) entry that authorised each image
	// loaded under Secure Boot.
	SecureBootAuthorities []Variable `json:"secure_boot_authorities,omitempty"`
	// BootVariables are EV_EFI_VARIABLE_BOOT(2) events: BootOrder and
	// the Boot#### load options (PCR 1).
	BootVariables []Variable `json:"boot_variables,omitempty"`
	// FirmwareBlobs are EV_EFI_PLATFORM_FIRMWARE_BLOB(2) events: firmware
	// volumes measured by the firmware itself.
	FirmwareBlobs []FirmwareBlob `json:"firmware_blobs,omitempty"`
	// BootApplications are EV_EFI_BOOT_SERVICES_APPLICATION events: the
	// boot manager, shim, grub, a UKI or a kernel started by the firmware
	// or by shim, in order.
	BootApplications []Image `json:"boot_applications,omitempty"`
	// EFIActions are EV_EFI_ACTION strings ("Calling EFI Application
	// from Boot Option", "Exit Boot Services Invocation", ...).
	EFIActions []Measurement `json:"efi_actions,omitempty"`
	// KernelCmdline are the measurements of a kernel command line: grub's
	// "kernel_cmdline: " or "grub_kernel_cmdline " (text_verified when
	// the digests are the text's), systemd-boot's UTF-16 load options,
	// the Linux EFI stub's LoadOptions tag and a UKI's .cmdline section
	// (the last two as digests only).
	KernelCmdline []Measurement `json:"kernel_cmdline,omitempty"`
	// Initrd are the measurements of an initial ramdisk: the Linux EFI
	// stub's initrd tag, a UKI's .initrd section, grub's linuxefi
	// "Initrd" event; digests of the ramdisk, which is not in the log.
	Initrd []Measurement `json:"initrd,omitempty"`
	// GrubCommands are grub's "grub_cmd" EV_IPL events, in order.
	GrubCommands []Measurement `json:"grub_commands,omitempty"`
	// GrubFiles are the files grub read and measured into PCR 9 (its
	// configuration, modules, the kernel and initrd): the text is the
	// path, the digests are of the file, which is not in the log.
	GrubFiles []Measurement `json:"grub_files,omitempty"`
	// Separators are EV_SEPARATOR events, one or more per PCR.
	Separators []Separator `json:"separators,omitempty"`
	// Events lists every event of the log, in order.
	Events []EventClaim `json:"events"`
}

// EventClaim is one event. Every event has the first fields; the decoded
// ones are present only for the event types whose data PFP 1.06 (or the
// producer named in the field) defines, and only when that data parses.
type EventClaim struct {
	Num  int    `json:"num"`
	PCR  int    `json:"pcr"`
	Type string `json:"type"`
	// Replayed is false for events the replay does not extend
	// (EV_NO_ACTION, PCR indexes outside 0..23): nothing vouches for them.
	Replayed bool `json:"replayed"`
	// Digests are the event's digests by bank name, hex.
	Digests map[string]string `json:"digests,omitempty"`
	Size    int               `json:"size"`
	// DataVerified: every digest of the event is the hash of its data, or
	// of the decoded part shown (text, variable data), so what is shown
	// is what was measured.
	DataVerified bool `json:"data_verified"`

	Text         string        `json:"text,omitempty"`
	TagID        *uint32       `json:"tag_id,omitempty"`
	Locality     *int          `json:"locality,omitempty"` // StartupLocality
	Variable     *Variable     `json:"variable,omitempty"`
	Image        *Image        `json:"image,omitempty"`
	FirmwareBlob *FirmwareBlob `json:"firmware_blob,omitempty"`
	Separator    *Separator    `json:"separator,omitempty"`
}

// In the decoded types below, Num and PCR repeat the event's number and
// PCR so that the summary views stand alone.

// FirmwareBlob is a UEFI_PLATFORM_FIRMWARE_BLOB(2).
type FirmwareBlob struct {
	Num         int               `json:"num"`
	PCR         int               `json:"pcr"`
	Description string            `json:"description,omitempty"` // BlobDescription (BLOB2 only)
	Base        uint64            `json:"base"`                  // BlobBase
	Length      uint64            `json:"length"`                // BlobLength
	Digests     map[string]string `json:"digests"`               // of the blob, which is not in the log
}

// Variable is a UEFI_VARIABLE_DATA (PFP 1.06 section 10.2.6).
type Variable struct {
	Num      int    `json:"num"`
	PCR      int    `json:"pcr"`
	Vendor   string `json:"vendor_guid"` // VariableName
	Name     string `json:"name"`        // UnicodeName
	DataSize int    `json:"data_size"`   // VariableDataLength
	// Enabled is set for SecureBoot: its data is the single byte 1.
	Enabled *bool `json:"enabled,omitempty"`
	// SignatureLists and Signatures count the EFI_SIGNATURE_LISTs of PK,
	// KEK, db and dbx (and their entries), when the data is a
	// well-formed list sequence; SHA256 counts the EFI_CERT_SHA256
	// entries (the image hashes dbx revokes).
	SignatureLists *int `json:"signature_lists,omitempty"`
	Signatures     *int `json:"signatures,omitempty"`
	SHA256         *int `json:"sha256_hashes,omitempty"`
	// Certificates are the X.509 entries of a signature database, or
	// the certificate of an EV_EFI_VARIABLE_AUTHORITY.
	Certificates []Certificate `json:"certificates,omitempty"`
	// Text is the data of an authority that is text (shim's SbatLevel).
	Text string `json:"text,omitempty"`
	// BootOrder is the BootOrder variable, as Boot#### numbers.
	BootOrder []string `json:"boot_order,omitempty"`
	// BootOption is a Boot#### variable's EFI_LOAD_OPTION.
	BootOption   *BootOption       `json:"boot_option,omitempty"`
	Digests      map[string]string `json:"digests"`
	DataVerified bool              `json:"data_verified"`
}

// Certificate is an X.509 certificate found in a variable.
type Certificate struct {
	Owner   string `json:"owner_guid,omitempty"` // SignatureOwner
	Subject string `json:"subject,omitempty"`
	Issuer  string `json:"issuer,omitempty"`
	SHA256  string `json:"sha256"` // of the DER
}

// BootOption is an EFI_LOAD_OPTION (UEFI 2.10 section 3.1.3).
type BootOption struct {
	Description string `json:"description"`
	DevicePath  string `json:"device_path,omitempty"`
	Active      bool   `json:"active"` // LOAD_OPTION_ACTIVE
}

// Image is a UEFI_IMAGE_LOAD_EVENT. Its digests are the image's PE
// Authenticode hash (PFP 1.06 section 10.4.4): compare them with the hash
// of the expected boot manager, shim, grub, UKI or kernel. The device
// path and the length are the firmware's description, not covered by the
// digests.
type Image struct {
	Num        int               `json:"num"`
	PCR        int               `json:"pcr"`
	Digests    map[string]string `json:"digests"`
	DevicePath string            `json:"device_path,omitempty"` // UEFI 2.10 section 10.6 text form
	File       string            `json:"file,omitempty"`        // the path's file name nodes
	Length     uint64            `json:"image_length"`          // ImageLengthInMemory
}

// Measurement is a measured item named by an event: its digests, the
// text the event gives for it, and whether the digests are that text's.
type Measurement struct {
	Num int `json:"num"`
	PCR int `json:"pcr"`
	// Source names the producer: "firmware", "grub", "systemd",
	// "linux-efi-stub", "uki".
	Source  string            `json:"source"`
	Text    string            `json:"text,omitempty"`
	Digests map[string]string `json:"digests"`
	// TextVerified: the digests are the hash of Text, so Text is what was
	// measured. False with a Text means the text is a description only.
	TextVerified bool `json:"text_verified"`
}

// Separator is an EV_SEPARATOR. Its data is 0x00000000, or 0x00000001
// when the firmware hit a measurement error (PFP 1.06 section 10.4.1;
// Windows also writes "WBCL").
type Separator struct {
	Num   int    `json:"num"`
	PCR   int    `json:"pcr"`
	Value string `json:"value"` // event data, hex
	Error bool   `json:"error"` // the data is 0x00000001
}

// Tagged event IDs this package names (Linux
// drivers/firmware/efi/libstub/efistub.h): the Linux EFI stub's tags for
// the kernel command line (LoadOptions) and the initrd.
const (
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
// event with its type, PCR, digests and size.
func (l *Log) Claims() *Claims {
	c := &Claims{Format: l.Format, Banks: l.bankNames(), Events: make([]EventClaim, 0, len(l.Events))}
	if loc, ok := l.StartupLocality(); ok {
		n := int(loc)
		c.StartupLocality = &n
	}
	var secureBoot []bool
	var ukiSection string // the UKI section whose name event came last
	for i := range l.Events {
		e := &l.Events[i]
		ec := eventClaim(e)
		c.Events = append(c.Events, ec)
		if !ec.Replayed {
			continue
		}
		switch {
		case ec.FirmwareBlob != nil:
			c.FirmwareBlobs = append(c.FirmwareBlobs, *ec.FirmwareBlob)
		case ec.Variable != nil && e.Type == EvEFIVariableDriverConfig && e.PCR == 7:
			c.SecureBootVariables = append(c.SecureBootVariables, *ec.Variable)
			if v := ec.Variable; v.Enabled != nil && v.DataVerified {
				secureBoot = append(secureBoot, *v.Enabled)
			}
		case ec.Variable != nil && e.Type == EvEFIVariableAuthority && e.PCR == 7:
			c.SecureBootAuthorities = append(c.SecureBootAuthorities, *ec.Variable)
		case ec.Variable != nil && (e.Type == EvEFIVariableBoot || e.Type == EvEFIVariableBoot2):
			c.BootVariables = append(c.BootVariables, *ec.Variable)
		case ec.Image != nil && e.Type == EvEFIBootServicesApplication:
			c.BootApplications = append(c.BootApplications, *ec.Image)
		case ec.Separator != nil:
			c.Separators = append(c.Separators, *ec.Separator)
		case e.Type == EvEFIAction && ec.Text != "":
			c.EFIActions = append(c.EFIActions, Measurement{Num: e.Num, PCR: e.PCR, Source: "firmware", Text: ec.Text, Digests: ec.Digests, TextVerified: ec.DataVerified})
		case ec.TagID != nil && *ec.TagID == TagLinuxLoadOptions:
			c.KernelCmdline = append(c.KernelCmdline, Measurement{Num: e.Num, PCR: e.PCR, Source: "linux-efi-stub", Digests: ec.Digests})
		case ec.TagID != nil && *ec.TagID == TagLinuxInitrd:
			c.Initrd = append(c.Initrd, Measurement{Num: e.Num, PCR: e.PCR, Source: "linux-efi-stub", Digests: ec.Digests})
		case e.Type == EvIPL && ec.Text != "":
			c.addIPL(e, &ec, &ukiSection)
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

// addIPL files an EV_IPL text event under the grub, systemd or UKI view
// it belongs to.
func (c *Claims) addIPL(e *Event, ec *EventClaim, ukiSection *string) {
	for _, p := range grubPrefixes {
		rest, ok := strings.CutPrefix(ec.Text, p.prefix)
		if !ok {
			continue
		}
		m := Measurement{Num: e.Num, PCR: e.PCR, Source: "grub", Text: rest, Digests: ec.Digests, TextVerified: textHashIs(e, rest)}
		switch p.kind {
		case "cmd":
			c.GrubCommands = append(c.GrubCommands, m)
		case "cmdline":
			c.KernelCmdline = append(c.KernelCmdline, m)
		}
		return
	}
	if ec.Text == "grub_linuxefi Initrd" {
		c.Initrd = append(c.Initrd, Measurement{Num: e.Num, PCR: e.PCR, Source: "grub", Digests: ec.Digests})
		return
	}
	if e.PCR == 9 && isUTF8Path(e.Data) {
		// grub measures each file it reads into PCR 9 under its path
		// (grub-core/commands/tpm.c, GRUB_BINARY_PCR).
		c.GrubFiles = append(c.GrubFiles, Measurement{Num: e.Num, PCR: e.PCR, Source: "grub", Text: ec.Text, Digests: ec.Digests})
		return
	}
	if (e.PCR == 8 || e.PCR == 12) && ec.DataVerified && isUTF16(e.Data) {
		// systemd-boot (PCR 8, before systemd 251) and systemd-stub (PCR
		// 12) measure the kernel's UTF-16 load options as the event data.
		c.KernelCmdline = append(c.KernelCmdline, Measurement{Num: e.Num, PCR: e.PCR, Source: "systemd", Text: ec.Text, Digests: ec.Digests, TextVerified: true})
		return
	}
	// systemd-stub measures each UKI section twice under the section's
	// name: first the ASCII name with its NUL (so data_verified), then
	// the section's contents.
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
	m := Measurement{Num: e.Num, PCR: e.PCR, Source: "uki", Digests: ec.Digests}
	switch name {
	case ".cmdline":
		c.KernelCmdline = append(c.KernelCmdline, m)
	case ".initrd":
		c.Initrd = append(c.Initrd, m)
	}
}

// isUTF8Path reports whether b is a path grub would log: "/..." or
// "(device)/...", NUL-terminated, not UTF-16.
func isUTF8Path(b []byte) bool {
	return len(b) > 1 && (b[0] == '/' || b[0] == '(') && b[1] != 0
}

// isUTF16 reports whether b looks like UTF-16LE text: a non-zero first
// character with a zero high byte.
func isUTF16(b []byte) bool {
	return len(b) >= 4 && b[1] == 0 && b[0] != 0
}

// eventClaim decodes one event.
func eventClaim(e *Event) EventClaim {
	ec := EventClaim{
		Num:      e.Num,
		PCR:      e.PCR,
		Type:     e.TypeName(),
		Replayed: e.Extends(),
		Size:     len(e.Data),
		Digests:  digestsHex(e),
	}
	ec.DataVerified = hashIs(e, e.Data)
	switch e.Type {
	case EvEFIVariableDriverConfig, EvEFIVariableBoot, EvEFIVariableBoot2, EvEFIVariableAuthority:
		if v, ok := uefi.ParseVariableData(e.Data); ok {
			// EDK2 measures only VariableData for EV_EFI_VARIABLE_BOOT
			// (PFP 1.06 section 10.4.4 allows it for that type alone).
			if e.Type == EvEFIVariableBoot || e.Type == EvEFIVariableBoot2 {
				ec.DataVerified = ec.DataVerified || hashIs(e, v.Data)
			}
			ec.Variable = variableClaim(e, v, ec)
		}
	case EvEFIBootServicesApplication, EvEFIBootServicesDriver, EvEFIRuntimeServicesDriver:
		if il, ok := uefi.ParseImageLoad(e.Data); ok {
			img := &Image{Num: e.Num, PCR: e.PCR, Digests: ec.Digests, Length: il.Length}
			img.DevicePath, _ = uefi.DevicePathText(il.DevicePath)
			img.File = uefi.DevicePathFile(il.DevicePath)
			ec.Image = img
		}
	case EvEFIPlatformFirmwareBlob, EvEFIPlatformFirmwareBlob2:
		if desc, base, n, ok := uefi.FirmwareBlob(e.Type, e.Data); ok {
			ec.FirmwareBlob = &FirmwareBlob{Num: e.Num, PCR: e.PCR, Description: desc, Base: base, Length: n, Digests: ec.Digests}
			ec.Text = desc
		}
	case EvEFIHandoffTables2:
		ec.Text, _ = uefi.HandoffTablesDescription(e.Data)
	case EvSeparator:
		if len(e.Data) == 4 {
			ec.Separator = &Separator{Num: e.Num, PCR: e.PCR, Value: hex.EncodeToString(e.Data), Error: binary.LittleEndian.Uint32(e.Data) == 1}
		}
	case EvEventTag:
		if t, ok := uefi.ParseTaggedEvent(e.Data); ok {
			id := t.ID
			ec.TagID = &id
			ec.Text, _ = uefi.ASCIIText(t.Data)
		}
	case EvNoAction:
		// EV_NO_ACTION data opens with a 16-byte signature ("Spec ID
		// Event03", "SP800-155 Event3", "StartupLocality", "NvIndexInstance").
		if len(e.Data) >= 16 {
			ec.Text, _ = uefi.ASCIIText(e.Data[:16])
		}
		if len(e.Data) == 17 && string(e.Data[:16]) == startupLocalitySignature {
			loc := int(e.Data[16])
			ec.Locality = &loc
		}
	case EvPostCode, EvAction, EvEFIAction, EvIPL, EvPlatformConfigFlags, EvSCRTMVersion, EvOmitBootDeviceEvents, EvCompactHash:
		if s, ok := uefi.Text(e.Data); ok {
			ec.Text = s
			ec.DataVerified = ec.DataVerified || textHashIs(e, s) || utf16HashIs(e, s)
			for _, p := range grubPrefixes {
				if rest, ok := strings.CutPrefix(s, p.prefix); ok {
					ec.DataVerified = ec.DataVerified || textHashIs(e, rest)
				}
			}
		}
	}
	return ec
}

func variableClaim(e *Event, v uefi.VariableData, ec EventClaim) *Variable {
	vc := &Variable{
		Num:          e.Num,
		PCR:          e.PCR,
		Vendor:       v.Vendor.String(),
		Name:         v.Name,
		DataSize:     len(v.Data),
		Digests:      ec.Digests,
		DataVerified: ec.DataVerified,
	}
	global := v.Vendor == uefi.GlobalVariable
	switch {
	case e.Type == EvEFIVariableAuthority:
		// PFP 1.06 section 10.4.4: the data is the EFI_SIGNATURE_DATA
		// (owner GUID, certificate) of the db entry used; shim logs its
		// built-in and MOK certificates bare and SbatLevel as text.
		if len(v.Data) > 16 {
			var owner uefi.GUID
			copy(owner[:], v.Data)
			if c, ok := certificate(owner, v.Data[16:]); ok {
				vc.Certificates = []Certificate{c}
				break
			}
		}
		if c, ok := certificate(uefi.GUID{}, v.Data); ok {
			vc.Certificates = []Certificate{c}
		} else if s, ok := uefi.ASCIIText(v.Data); ok {
			vc.Text = s
		}
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
		if lists, sigs, ok := uefi.SignatureLists(v.Data); ok {
			n, hashes := len(sigs), 0
			vc.SignatureLists, vc.Signatures = &lists, &n
			for _, s := range sigs {
				switch s.Type {
				case uefi.CertSHA256:
					hashes++
				case uefi.CertX509:
					if c, ok := certificate(s.Owner, s.Data); ok {
						vc.Certificates = append(vc.Certificates, c)
					}
				}
			}
			vc.SHA256 = &hashes
		}
	case global && v.Name == "BootOrder":
		if len(v.Data)%2 == 0 {
			for i := 0; i+1 < len(v.Data); i += 2 {
				vc.BootOrder = append(vc.BootOrder, fmt.Sprintf("%04X", binary.LittleEndian.Uint16(v.Data[i:])))
			}
		}
	case global && isBootOptionName(v.Name):
		if lo, ok := uefi.ParseLoadOption(v.Data); ok {
			bo := &BootOption{Description: lo.Description, Active: lo.Attributes&1 != 0}
			bo.DevicePath, _ = uefi.DevicePathText(lo.DevicePath)
			vc.BootOption = bo
		}
	}
	return vc
}

// isBootOptionName reports whether name is Boot#### (four upper-case hex
// digits, UEFI 2.10 section 3.1.3).
func isBootOptionName(name string) bool {
	if len(name) != 8 || !strings.HasPrefix(name, "Boot") {
		return false
	}
	for _, c := range name[4:] {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// certificate describes a DER certificate; false when der does not parse
// as one.
func certificate(owner uefi.GUID, der []byte) (Certificate, bool) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Certificate{}, false
	}
	sum := sha256.Sum256(der)
	c := Certificate{Subject: cert.Subject.String(), Issuer: cert.Issuer.String(), SHA256: hex.EncodeToString(sum[:])}
	if owner != (uefi.GUID{}) {
		c.Owner = owner.String()
	}
	return c, true
}

// digestsHex returns the event's digests by bank name (SM3 included).
func digestsHex(e *Event) map[string]string {
	if len(e.DigestValues) == 0 {
		return nil
	}
	m := make(map[string]string, len(e.DigestValues))
	for _, d := range e.DigestValues {
		m[d.Alg.String()] = hex.EncodeToString(d.Value)
	}
	return m
}

// hashIs reports whether every digest of the event that Go can compute is
// the hash of b, and there is at least one.
func hashIs(e *Event, b []byte) bool {
	n := 0
	for h, d := range e.Digests {
		if !h.Available() {
			continue
		}
		x := h.New()
		x.Write(b)
		if !bytes.Equal(x.Sum(nil), d) {
			return false
		}
		n++
	}
	return n > 0
}

// textHashIs reports whether every digest of the event is the hash of s,
// with or without its C terminator: upstream grub and systemd-stub hash
// the string alone, the RHEL grub hashes the NUL too.
func textHashIs(e *Event, s string) bool {
	n := 0
	for h, d := range e.Digests {
		if !h.Available() {
			continue
		}
		if !bytes.Equal(sum(h, []byte(s)), d) && !bytes.Equal(sum(h, append([]byte(s), 0)), d) {
			return false
		}
		n++
	}
	return n > 0
}

// utf16HashIs reports whether every digest of the event is the hash of s
// in UTF-16LE, with or without its NUL: systemd-boot hashes the load
// options with their NUL and logs them one byte short.
func utf16HashIs(e *Event, s string) bool {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(u)+2)
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	n := 0
	for h, d := range e.Digests {
		if !h.Available() {
			continue
		}
		if !bytes.Equal(sum(h, b), d) && !bytes.Equal(sum(h, append(b, 0, 0)), d) {
			return false
		}
		n++
	}
	return n > 0
}

func sum(h crypto.Hash, b []byte) []byte {
	x := h.New()
	x.Write(b)
	return x.Sum(nil)
}
