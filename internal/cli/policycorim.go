package cli

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/assay-dev/assay/internal/corim"
	"github.com/assay-dev/assay/policy"
)

// CoRIM profiles whose reference values map onto Assay's claims
// (docs/policy.md, "CoRIM import").
const (
	profileCCARealm    = "http://arm.com/cca/realm/1"
	profileCCAPlatform = "http://arm.com/cca/ssd/1"
	// draft-deeglaze-amd-sev-snp-corim-profile: the draft names the 2025
	// URI; Veraison's SEV-SNP scheme (and its test CoRIMs) the 2024 one.
	profileSNP2024 = "tag:amd.com,2024:snp-corim-profile"
	profileSNP2025 = "tag:amd.com,2025:snp-corim-profile"
	// Veraison's Parsec TPM scheme: PCR values keyed by PCR number.
	profileParsecTPM = "tag:github.com/parallaxsecond,2023-03-03:tpm"
	// Veraison's EnactTrust TPM scheme: a digest of a PCR selection.
	profileEnactTrust = "https://enacttrust.com/veraison/1.0.0"
)

type importCoRIMFlags struct {
	keys     stringList
	unsigned bool
	workload string
	author   string
	state    string
	out      string
}

// runPolicyImportCoRIM converts CoRIMs into a reference value file.
func runPolicyImportCoRIM(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("assay policy import-corim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f importCoRIMFlags
	fs.Var(&f.keys, "key", "PEM file of public keys or certificates a signed CoRIM must verify with (repeatable)")
	fs.BoolVar(&f.unsigned, "unsigned", false, "accept unsigned CoRIMs (nothing but you vouches for them)")
	fs.StringVar(&f.workload, "workload", "", "the workload the reference values belong to (default: every workload)")
	fs.StringVar(&f.author, "author", "", "who vouches for the values (default: a signed CoRIM's signer)")
	fs.StringVar(&f.state, "state", string(policy.StateStaged), "state of the values: staged (tried in shadow first) or active")
	fs.StringVar(&f.out, "o", "", "write the reference value file here (default: standard output)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: assay policy import-corim [flags] FILE...")
		fs.PrintDefaults()
	}
	files, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "assay policy import-corim: "+format+"\n", a...)
		return code
	}
	if len(files) == 0 {
		return fail(ExitUsage, "no CoRIM files")
	}
	state := policy.State(f.state)
	if state != policy.StateStaged && state != policy.StateActive {
		return fail(ExitUsage, "--state is %q, want staged or active", f.state)
	}
	keys, err := readCoRIMKeys(f.keys)
	if err != nil {
		return fail(ExitUsage, "--key: %v", err)
	}
	im := coRIMImport{workload: f.workload, author: f.author, state: state, seen: map[string]string{}}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			return fail(ExitUsage, "%v", err)
		}
		src, c, err := openCoRIM(path, b, keys, f.unsigned)
		if err != nil {
			return fail(ExitRejected, "%s: %v", path, err)
		}
		fmt.Fprintf(stderr, "%s: %s\n", path, src.how)
		im.add(src, c)
	}
	for _, u := range im.unmapped {
		fmt.Fprintf(stderr, "not imported: %s\n", u)
	}
	if err := policy.ValidateAll(im.values); err != nil {
		return fail(ExitRejected, "the reference values do not validate: %v", err)
	}
	if len(im.values) == 0 {
		return fail(ExitRejected, "no triple maps onto a claim Assay compares (see docs/policy.md, CoRIM import)")
	}
	out, err := policy.MarshalRefValues(im.values)
	if err != nil {
		return fail(ExitRejected, "%v", err)
	}
	if f.out == "" {
		_, err = stdout.Write(out)
	} else {
		err = os.WriteFile(f.out, out, 0o644)
	}
	if err != nil {
		return fail(ExitUsage, "%v", err)
	}
	fmt.Fprintf(stderr, "%d reference values, %d triples or values not imported\n", len(im.values), len(im.unmapped))
	return 0
}

// readCoRIMKeys reads the public keys of PEM files: PUBLIC KEY blocks,
// and the keys of CERTIFICATE blocks (the certificate only carries the
// key: nothing chains it).
func readCoRIMKeys(paths []string) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		n := 0
		for rest := b; ; {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			switch blk.Type {
			case "PUBLIC KEY":
				k, err := x509.ParsePKIXPublicKey(blk.Bytes)
				if err != nil {
					return nil, fmt.Errorf("%s: %v", p, err)
				}
				keys = append(keys, k)
			case "CERTIFICATE":
				c, err := x509.ParseCertificate(blk.Bytes)
				if err != nil {
					return nil, fmt.Errorf("%s: %v", p, err)
				}
				keys = append(keys, c.PublicKey)
			default:
				continue
			}
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%s holds no PEM PUBLIC KEY or CERTIFICATE", p)
		}
	}
	return keys, nil
}

// coRIMSource is where a CoRIM came from, for the values' provenance.
type coRIMSource struct {
	path, sha256, signer, how string
	notBefore, notAfter       time.Time
}

// openCoRIM reads one CoRIM file: a signed one must verify with one of
// keys; an unsigned one is accepted only when unsigned is set.
func openCoRIM(path string, b []byte, keys []crypto.PublicKey, unsigned bool) (coRIMSource, *corim.CoRIM, error) {
	sum := sha256.Sum256(b)
	src := coRIMSource{path: path, sha256: hex.EncodeToString(sum[:])}
	switch {
	case corim.SniffSigned(b):
		s, err := corim.ParseSigned(b)
		if err != nil {
			return src, nil, err
		}
		if len(keys) == 0 {
			return src, nil, fmt.Errorf("signed by %q, but no --key was given to verify it with", s.Signer)
		}
		k, err := s.Verify(keys)
		if err != nil {
			return src, nil, err
		}
		der, _ := x509.MarshalPKIXPublicKey(k)
		ks := sha256.Sum256(der)
		src.signer, src.notBefore, src.notAfter = s.Signer, s.NotBefore, s.NotAfter
		src.how = fmt.Sprintf("signed CoRIM, signer %q (%s), signature verified with the --key whose SPKI SHA-256 is %x", s.Signer, s.Alg, ks[:])
		return src, s.CoRIM, nil
	case corim.SniffUnsigned(b):
		if !unsigned {
			return src, nil, errors.New("an unsigned CoRIM: nothing vouches for it; give --unsigned to import it on your own authority")
		}
		c, err := corim.Parse(b)
		if err != nil {
			return src, nil, err
		}
		src.how = "unsigned CoRIM, imported on --unsigned"
		return src, c, nil
	}
	return src, nil, fmt.Errorf("%w: neither an unsigned CoRIM (CBOR tag 501) nor a signed one (COSE_Sign1, tag 18, content type %s)", corim.ErrMalformed, corim.ContentType)
}

// coRIMImport collects the reference values of several CoRIMs.
type coRIMImport struct {
	workload, author string
	state            policy.State
	values           []policy.RefValue
	unmapped         []string
	// seen maps tee, claim and value to the ID that has it: a value
	// stated twice (a realm's RIM as instance and as register) is kept
	// once.
	seen map[string]string
}

// valueSink takes what one reference triple maps to: values of a claim
// (hex of bytes, or a decimal number) and what is skipped, with why.
type valueSink struct {
	emit func(tee, claim, idSuffix, value string)
	skip func(what string)
}

func (s valueSink) bytes(tee, claim, idSuffix string, v []byte) {
	s.emit(tee, claim, idSuffix, hex.EncodeToString(v))
}

func (im *coRIMImport) add(src coRIMSource, c *corim.CoRIM) {
	var tagIDs []string
	for _, m := range c.CoMIDs {
		tagIDs = append(tagIDs, m.TagID)
	}
	source := fmt.Sprintf("CoRIM %s (sha256:%s), corim-id %s, profile %s, tag-ids %s, ", src.path, src.sha256, c.ID, orDash(c.Profile), strings.Join(tagIDs, ","))
	author := im.author
	if src.signer != "" {
		source += fmt.Sprintf("signed by %q", src.signer)
		if author == "" {
			author = src.signer
		}
	} else {
		source += "unsigned"
	}
	nb, na := c.NotBefore, c.NotAfter
	if !src.notBefore.IsZero() && src.notBefore.After(nb) {
		nb = src.notBefore
	}
	if !src.notAfter.IsZero() && (na.IsZero() || src.notAfter.Before(na)) {
		na = src.notAfter
	}
	mapTriple := tripleMapper(c.Profile)
	for _, m := range c.CoMIDs {
		for j, t := range m.Reference {
			where := fmt.Sprintf("%s: CoMID %s, reference triple %d", src.path, m.TagID, j)
			s := valueSink{
				emit: func(tee, claim, suffix, value string) {
					key := tee + " " + claim + "=" + value
					if _, dup := im.seen[key]; dup {
						return
					}
					id := fmt.Sprintf("corim:%s/%s/%d/%s", c.ID, m.TagID, j, suffix)
					im.seen[key] = id
					im.values = append(im.values, policy.RefValue{
						ID: id, TEE: tee, Claim: claim, Value: value, Workload: im.workload,
						State: im.state, Version: 1, NotBefore: nb, NotAfter: na,
						Provenance: policy.Provenance{Author: author, Source: fmt.Sprintf("%s; CoMID %s, reference triple %d", source, m.TagID, j)},
					})
				},
				skip: func(what string) { im.unmapped = append(im.unmapped, where+": "+what) },
			}
			mapTriple(t, s)
		}
		for j := range m.AttestKeys {
			im.unmapped = append(im.unmapped, fmt.Sprintf("%s: CoMID %s, attest-key triple %d: %s", src.path, m.TagID, j, attestKeyNote(c.Profile)))
		}
		for _, k := range slices.Sorted(maps.Keys(m.Other)) {
			im.unmapped = append(im.unmapped, fmt.Sprintf("%s: CoMID %s: %d triples of triples-map key %d (not reference values)", src.path, m.TagID, m.Other[k], k))
		}
	}
	if c.OtherTags > 0 {
		im.unmapped = append(im.unmapped, fmt.Sprintf("%s: %d CoSWID or CoTL tags", src.path, c.OtherTags))
	}
}

// tripleMapper picks the mapping of a CoRIM profile's reference triples.
func tripleMapper(profile string) func(corim.ReferenceTriple, valueSink) {
	switch profile {
	case profileCCARealm:
		return realmTriple
	case profileCCAPlatform:
		return platformTriple
	case profileSNP2024, profileSNP2025:
		return snpTriple
	case profileParsecTPM:
		return parsecTPMTriple
	case profileEnactTrust:
		return func(_ corim.ReferenceTriple, s valueSink) {
			s.skip("EnactTrust TPM: the digest of a quoted PCR selection (TPMS_QUOTE_INFO pcrDigest), not any one PCR's value; Assay compares PCRs one by one")
		}
	case corim.ProfileIntel:
		return intelTriple
	}
	return func(_ corim.ReferenceTriple, s valueSink) {
		s.skip(fmt.Sprintf("reference triple of profile %s: no mapping onto Assay claims (mapped: %s)", orDash(profile),
			strings.Join([]string{profileCCARealm, profileCCAPlatform, profileSNP2024, profileSNP2025, profileParsecTPM, corim.ProfileIntel + " (Intel)"}, ", ")))
	}
}

func attestKeyNote(profile string) string {
	switch profile {
	case profileCCAPlatform, profileCCARealm:
		return "a CPAK endorsement, not a reference value (give the CoRIM to assay verify as collateral)"
	}
	return "a key endorsement (a trust anchor), not a reference value: Assay takes attestation roots from its own configuration"
}

// realmTriple maps a CCA realm reference triple (draft-ydb-rats-cca-
// endorsements, realm profile): the instance (tagged bytes) is the RIM;
// integrity registers rim and rem0-rem3 are the RIM and REMs; the raw
// value is the personalization value.
func realmTriple(t corim.ReferenceTriple, s valueSink) {
	env := t.Environment
	switch {
	case env.Instance != nil && env.InstanceTag == corim.TagBytes:
		s.bytes("cca", "realm.initial_measurement", "rim", env.Instance)
	case env.Instance != nil:
		s.skip(fmt.Sprintf("realm instance of CBOR tag %d, want %d (the RIM)", env.InstanceTag, corim.TagBytes))
	}
	for _, m := range t.Measurements {
		if m.RawValue != nil {
			s.bytes("cca", "realm.personalization_value", "rpv", m.RawValue)
		}
		for _, name := range slices.Sorted(maps.Keys(m.IntegrityRegisters)) {
			claim := ""
			switch {
			case name == "rim":
				claim = "realm.initial_measurement"
			case len(name) == 4 && strings.HasPrefix(name, "rem") && name[3] >= '0' && name[3] <= '3':
				claim = "realm.extensible_measurements." + name[3:]
			default:
				s.skip(fmt.Sprintf("integrity register %q: a realm has rim and rem0-rem3", name))
				continue
			}
			for _, d := range m.IntegrityRegisters[name] {
				s.bytes("cca", claim, name, d.Value)
			}
		}
		ccaUnread(m, s)
	}
}

// platformTriple maps a CCA platform reference triple (draft-ydb-rats-
// cca-endorsements, ssd profile): the class-id (implementation ID) and
// each software component's digests.
func platformTriple(t corim.ReferenceTriple, s valueSink) {
	env := t.Environment
	if env.ClassIDTag == corim.TagImplID {
		s.bytes("cca", "platform.implementation_id", "implementation_id", env.ClassID)
	} else if env.ClassID != nil {
		s.skip(fmt.Sprintf("class-id of CBOR tag %d, want %d (an implementation ID)", env.ClassIDTag, corim.TagImplID))
	}
	if env.Instance != nil {
		s.skip("an instance ID in a reference triple: platform instances are pinned by platform.instance_id reference values written by hand")
	}
	for _, m := range t.Measurements {
		switch {
		case m.Component != nil:
			for k, d := range m.Digests {
				s.bytes("cca", "platform.sw_components", fmt.Sprintf("sw/%s@%s/%d", m.Component.Label, m.Component.Version, k), d.Value)
			}
			if len(m.Digests) == 0 {
				s.skip(fmt.Sprintf("software component %s %s has no digest", m.Component.Label, m.Component.Version))
			}
		case m.KeyTag == corim.TagCCAConfigID:
			s.skip(fmt.Sprintf("platform config %q (%x): Assay has no reference value claim for platform.config", m.KeyText, m.RawValue))
		default:
			s.skip(fmt.Sprintf("platform measurement with mkey tag %d %q: not a software component", m.KeyTag, m.KeyText))
		}
		ccaUnread(m, s)
	}
}

func ccaUnread(m corim.Measurement, s valueSink) {
	if m.SVN != nil {
		s.skip(fmt.Sprintf("svn %d: Assay's CCA claims carry no SVN", *m.SVN))
	}
	unreadKeys(m, false, s)
}

// unreadKeys reports the measurement values the reader did not interpret.
func unreadKeys(m corim.Measurement, intel bool, s valueSink) {
	if len(m.Unread) == 0 {
		return
	}
	names := make([]string, 0, len(m.Unread))
	for _, k := range m.Unread {
		names = append(names, fmt.Sprintf("%d (%s)", k, corim.MvalName(k, intel)))
	}
	s.skip(fmt.Sprintf("%s: measurement values of mval keys %s: not mapped", mkeyName(m), strings.Join(names, ", ")))
}

func mkeyName(m corim.Measurement) string {
	switch {
	case m.KeyText != "":
		return "mkey " + m.KeyText
	case m.KeyTag != 0:
		return fmt.Sprintf("mkey of CBOR tag %d", m.KeyTag)
	}
	return "measurement without mkey"
}

// SEV-SNP attestation classes (draft-deeglaze-amd-sev-snp-corim-profile,
// "AMD SEV-SNP Target Environment"): reports signed by a VCEK (by chip)
// or a VLEK (by CSP).
const (
	snpClassByChip = "1.3.6.1.4.1.3704.3.1"
	snpClassByCSP  = "1.3.6.1.4.1.3704.3.2"
)

// snpFields names the report fields of the SEV-SNP profile's mkeys
// ("AMD SEV-SNP Attestation Report measurements"), with the Assay claim
// of those that have one.
func snpField(mkey uint64) (field, claim string) {
	switch mkey {
	case 0:
		return "VERSION", ""
	case 1:
		return "GUEST_SVN", ""
	case 2:
		return "POLICY", ""
	case 3:
		return "FAMILY_ID", "family_id"
	case 4:
		return "IMAGE_ID", "image_id"
	case 5:
		return "VMPL", ""
	case 6:
		return "CURRENT_TCB", ""
	case 7:
		return "PLATFORM_INFO", ""
	case 640:
		return "REPORT_DATA", ""
	case 641:
		return "MEASUREMENT", "measurement"
	case 642:
		return "HOST_DATA", "host_data"
	case 643:
		return "ID_KEY_DIGEST", "id_key_digest"
	case 644:
		return "AUTHOR_KEY_DIGEST", "author_key_digest"
	case 645:
		return "REPORT_ID", ""
	case 646:
		return "REPORT_ID_MA", ""
	case 647:
		return "REPORTED_TCB", ""
	case 648:
		return "CPUID_FAM_ID", ""
	case 649:
		return "CPUID_MOD_ID", ""
	case 650:
		return "CPUID_STEP", ""
	case 3328:
		return "CHIP_ID", "chip_id"
	case 3329:
		return "COMMITTED_TCB", ""
	case 3330:
		return "CurrentVersion", ""
	case 3936:
		return "CommittedVersion", ""
	case 3968:
		return "LAUNCH_TCB", ""
	}
	return "", ""
}

// snpTriple maps an SEV-SNP reference triple
// (draft-deeglaze-amd-sev-snp-corim-profile): MEASUREMENT, HOST_DATA,
// ID_KEY_DIGEST and AUTHOR_KEY_DIGEST from their digests; FAMILY_ID,
// IMAGE_ID and CHIP_ID from their raw values; a by-chip instance of 64
// bytes as CHIP_ID.
func snpTriple(t corim.ReferenceTriple, s valueSink) {
	env := t.Environment
	class := ""
	if env.ClassIDTag == corim.TagOID {
		class, _ = corim.OID(env.ClassID)
	}
	switch {
	case class == snpClassByChip && env.InstanceTag == corim.TagBytes && len(env.Instance) == 64:
		s.bytes("snp", "chip_id", "instance/chip_id", env.Instance)
	case class == snpClassByChip && env.Instance != nil:
		s.skip(fmt.Sprintf("by-chip instance of CBOR tag %d, %d bytes: a CHIP_ID is tagged bytes (%d) of 64 (SEV-SNP ABI, ATTESTATION_REPORT)", env.InstanceTag, len(env.Instance), corim.TagBytes))
	case class == snpClassByCSP && env.Instance != nil:
		s.skip(fmt.Sprintf("by-CSP instance %q: Assay has no reference value claim for a VLEK's CSP_ID", env.Instance))
	case class != snpClassByChip && class != snpClassByCSP:
		s.skip(fmt.Sprintf("class-id %s: not an SEV-SNP attestation class (%s by chip, %s by CSP); mapped by its mkeys all the same", orDash(class), snpClassByChip, snpClassByCSP))
	}
	for i, m := range t.Measurements {
		if m.KeyUint == nil {
			s.skip(fmt.Sprintf("%s: the SEV-SNP profile keys report fields by uint mkeys", mkeyName(m)))
			continue
		}
		field, claim := snpField(*m.KeyUint)
		switch {
		case field == "":
			s.skip(fmt.Sprintf("mkey %d: not a report field of the SEV-SNP profile", *m.KeyUint))
		case claim == "":
			s.skip(fmt.Sprintf("mkey %d (%s): %s", *m.KeyUint, field, snpNoClaim(field)))
		case *m.KeyUint >= 641 && *m.KeyUint <= 644:
			// The profile: &(digests: 2): [[7, bytes]] (SHA-384 for
			// the three digests; HOST_DATA is 32 bytes of host data).
			for k, d := range m.Digests {
				if d.Alg != 7 && claim != "host_data" {
					s.skip(fmt.Sprintf("mkey %d (%s): a %s digest; %s is SHA-384", *m.KeyUint, field, corim.HashName(d.Alg), field))
					continue
				}
				s.bytes("snp", claim, fmt.Sprintf("m%d/%s/%d", i, claim, k), d.Value)
			}
			if len(m.Digests) == 0 {
				s.skip(fmt.Sprintf("mkey %d (%s): no digests (mval 2)", *m.KeyUint, field))
			}
		default: // FAMILY_ID, IMAGE_ID, CHIP_ID: &(raw-value: 4)
			switch {
			case m.RawValue == nil:
				s.skip(fmt.Sprintf("mkey %d (%s): no raw value (mval 4)", *m.KeyUint, field))
			case m.RawValueMask != nil:
				s.skip(fmt.Sprintf("mkey %d (%s): a masked raw value; Assay compares %s whole", *m.KeyUint, field, field))
			default:
				s.bytes("snp", claim, fmt.Sprintf("m%d/%s", i, claim), m.RawValue)
			}
		}
		unreadKeys(m, false, s)
	}
}

func snpNoClaim(field string) string {
	switch field {
	case "CURRENT_TCB", "REPORTED_TCB", "COMMITTED_TCB", "LAUNCH_TCB":
		return "a TCB_VERSION; state the minimum TCB as a TCB policy (docs/policy.md, TCB policies)"
	case "REPORT_DATA", "REPORT_ID", "REPORT_ID_MA":
		return "differs per report or per guest, not a reference value"
	}
	return "Assay has no reference value claim for it"
}

// parsecTPMTriple maps a Parsec TPM reference triple (Veraison's
// parsec-tpm scheme): mkey N is PCR N; its SHA-256 and SHA-384 digests
// are the PCR's values in those banks.
func parsecTPMTriple(t corim.ReferenceTriple, s valueSink) {
	if env := t.Environment; env.ClassID != nil || env.Instance != nil {
		var parts []string
		if env.ClassID != nil {
			parts = append(parts, fmt.Sprintf("class-id %x", env.ClassID))
		}
		if env.Instance != nil {
			parts = append(parts, fmt.Sprintf("instance %x", env.Instance))
		}
		s.skip(fmt.Sprintf("environment %s: names the platforms the PCR values are for; Assay's values apply to every TPM of the workload (narrow with --workload)", strings.Join(parts, ", ")))
	}
	for i, m := range t.Measurements {
		if m.KeyUint == nil || *m.KeyUint > 23 {
			s.skip(fmt.Sprintf("%s: the Parsec TPM profile keys PCRs by number; Assay's TPM PCRs are 0-23", mkeyName(m)))
			continue
		}
		pcr := *m.KeyUint
		for _, d := range m.Digests {
			bank := ""
			switch d.Alg {
			case 1:
				bank = "sha256"
			case 7:
				bank = "sha384"
			default:
				s.skip(fmt.Sprintf("PCR %d: a %s value; Assay compares the SHA-1, SHA-256 and SHA-384 banks", pcr, corim.HashName(d.Alg)))
				continue
			}
			s.bytes("tpm", fmt.Sprintf("pcrs.%s.%d", bank, pcr), fmt.Sprintf("m%d/pcr%d/%s", i, pcr, bank), d.Value)
		}
		if len(m.Digests) == 0 {
			s.skip(fmt.Sprintf("PCR %d: no digests (mval 2)", pcr))
		}
		if m.SVN != nil || m.RawValue != nil || m.Version != nil {
			s.skip(fmt.Sprintf("PCR %d: svn, raw value or version beside the digests: not PCR values", pcr))
		}
		unreadKeys(m, false, s)
	}
}

// Intel profile environments (class-id OIDs of the profile's examples,
// draft-cds-rats-intel-corim-profile cddl/examples, and veraison/corim
// profiles/tdx), and Assay's convention for a TD.
const (
	intelClassTDXSEAM = "2.16.840.1.113741.1.2.3.4.3"
	intelClassSGXISVE = "2.16.840.1.113741.1.2.3.5.1"
	// The profile names no environment for a TD; Assay reads a class
	// whose model is "TDX TD" (after the profile's "TDX SEAM") as one.
	intelModelTDXTD = "TDX TD"
)

// intelTriple maps a reference triple of the Intel profile by its
// environment: a TDX module (SEAM: tee.mrtee MRSEAM, tee.mrsigner
// MRSIGNERSEAM), an SGX ISV enclave (MRENCLAVE, MRSIGNER, ISVPRODID,
// minimum ISVSVN) or a TD (model "TDX TD": tee.mrtee MRTD,
// integrity-registers 0-3 RTMRs). QE, PCE and platform TCB environments
// are Intel's collateral's business, not reference values.
func intelTriple(t corim.ReferenceTriple, s valueSink) {
	env := t.Environment
	class := ""
	if env.ClassIDTag == corim.TagOID {
		class, _ = corim.OID(env.ClassID)
	}
	var tee, mrtee, mrsigner string
	var alg int64
	switch {
	case class == intelClassTDXSEAM:
		tee, mrtee, mrsigner, alg = "tdx", "mr_seam", "mr_signer_seam", 7
	case class == intelClassSGXISVE:
		tee, mrtee, mrsigner, alg = "sgx", "mr_enclave", "mr_signer", 1
	case env.Model == intelModelTDXTD:
		tee, mrtee, alg = "tdx", "mr_td", 7
	case strings.HasPrefix(class, "2.16.840.1.113741.1.2.3.4."):
		s.skip(fmt.Sprintf("Intel environment %s (%s): a quoting or provisioning enclave or platform TCB, which Assay judges with Intel's QE identity and TCB info collateral, not reference values", class, orDash(env.Model)))
		return
	default:
		s.skip(fmt.Sprintf("Intel profile environment (class-id %s, model %q): not one Assay maps (TDX SEAM %s, SGX ISV enclave %s, model %q)", orDash(class), env.Model, intelClassTDXSEAM, intelClassSGXISVE, intelModelTDXTD))
		return
	}
	for i, m := range t.Measurements {
		iv := m.Intel
		if iv == nil {
			iv = &corim.IntelValues{}
		}
		digestClaim := func(what, claim string, set *corim.DigestSet) {
			switch {
			case set == nil:
			case claim == "":
				s.skip(fmt.Sprintf("%s: a TD has no signer claim in Assay", what))
			case set.Exclude:
				s.skip(fmt.Sprintf("%s: a not-member set; Assay's reference values list accepted values only", what))
			default:
				for k, d := range set.Digests {
					if d.Alg != alg {
						s.skip(fmt.Sprintf("%s: a %s digest; %s %s is %s", what, corim.HashName(d.Alg), tee, claim, corim.HashName(alg)))
						continue
					}
					s.bytes(tee, claim, fmt.Sprintf("m%d/%s/%d", i, claim, k), d.Value)
				}
			}
		}
		digestClaim("tee.mrtee", mrtee, iv.MrTee)
		digestClaim("tee.mrsigner", mrsigner, iv.MrSigner)
		intelNumbers(tee, i, iv, s)
		if tee == "tdx" && mrtee == "mr_td" {
			for _, name := range slices.Sorted(maps.Keys(m.IntegrityRegisters)) {
				n, err := strconv.Atoi(strings.TrimPrefix(name, "rtmr"))
				if err != nil || n < 0 || n > 3 {
					s.skip(fmt.Sprintf("integrity register %q: a TD has RTMRs 0-3 (named 0-3 or rtmr0-rtmr3)", name))
					continue
				}
				for k, d := range m.IntegrityRegisters[name] {
					if d.Alg != 7 {
						s.skip(fmt.Sprintf("RTMR %d: a %s digest; RTMRs are SHA-384", n, corim.HashName(d.Alg)))
						continue
					}
					s.bytes("tdx", fmt.Sprintf("rtmr.%d", n), fmt.Sprintf("m%d/rtmr%d/%d", i, n, k), d.Value)
				}
			}
		} else if len(m.IntegrityRegisters) > 0 {
			s.skip(fmt.Sprintf("integrity registers of a %s environment: only a TD's (RTMRs) are mapped", tee))
		}
		if m.Digests != nil || m.RawValue != nil || m.SVN != nil || m.Version != nil {
			s.skip(fmt.Sprintf("%s: base measurement values (digests, raw value, svn, version) in an Intel environment: the profile states these with its tee.* extensions", mkeyName(m)))
		}
		unreadKeys(m, true, s)
	}
}

// intelNumbers maps tee.isvprodid and tee.isvsvn: an SGX enclave's
// ISVPRODID (exact) and ISVSVN (Assay's isv_svn is a minimum: op.ge, or
// op.gt as the next number).
func intelNumbers(tee string, i int, iv *corim.IntelValues, s valueSink) {
	sgx := tee == "sgx"
	switch {
	case iv.ISVProdID != nil && sgx && *iv.ISVProdID <= 0xffff:
		s.emit("sgx", "isv_prod_id", fmt.Sprintf("m%d/isv_prod_id", i), strconv.FormatUint(*iv.ISVProdID, 10))
	case iv.ISVProdID != nil && sgx:
		s.skip(fmt.Sprintf("tee.isvprodid %d: ISVPRODID is 16 bits", *iv.ISVProdID))
	case iv.ISVProdIDBytes != nil && sgx:
		s.skip(fmt.Sprintf("tee.isvprodid h'%x': a byte string, whose byte order the profile leaves open", iv.ISVProdIDBytes))
	case iv.ISVProdID != nil || iv.ISVProdIDBytes != nil:
		s.skip(fmt.Sprintf("tee.isvprodid of a %s environment: Assay has no %s claim for it", tee, tee))
	}
	if n := iv.ISVSVN; n != nil {
		least, ok := n.Value, false
		switch n.Op {
		case corim.OpGe:
			ok = true
		case corim.OpGt:
			least, ok = n.Value+1, n.Value < 0xffff
		}
		switch {
		case !sgx:
			s.skip(fmt.Sprintf("tee.isvsvn (operator %d, %d) of a %s environment: judged by Intel's TCB info (TCB policies), not a reference value", n.Op, n.Value, tee))
		case !ok:
			s.skip(fmt.Sprintf("tee.isvsvn operator %d, %d: Assay's isv_svn is a minimum; only >= (and >) are mapped", n.Op, n.Value))
		case least > 0xffff:
			s.skip(fmt.Sprintf("tee.isvsvn %d: ISVSVN is 16 bits", least))
		default:
			s.emit("sgx", "isv_svn", fmt.Sprintf("m%d/isv_svn", i), strconv.FormatUint(least, 10))
		}
	}
	if iv.Vendor != "" || iv.Model != "" {
		s.skip(fmt.Sprintf("tee.vendor %q, tee.model %q: identify the environment, not a claim", iv.Vendor, iv.Model))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
