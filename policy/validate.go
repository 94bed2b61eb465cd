package policy

import (
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// claimSpec describes the claims a reference value may name: one claim
// ("measurement"), or an indexed family ("rtmr.0" to "rtmr.3") when hi >
// lo or prefix is set.
type claimSpec struct {
	// name is the claim path, or, for a family, its prefix ("rtmr.").
	name string
	// indexed: the path is name followed by a decimal index in [lo, hi].
	indexed bool
	lo, hi  int
	// sizes are the byte lengths a hex value may have; empty for a
	// decimal claim, which is a number in [0, max].
	sizes []int
	max   uint64
	// minimum: a reference value is the least the claim may be, not a
	// value it must equal.
	minimum bool
	// what says what the claim is, for the message listing known claims.
	what string
	// tcb: a TCB policy claim (tcb.go), judged into input.tcb rather than
	// compared with a claim of the same path.
	tcb bool
	// enum, when set, lists the values the claim may have; pattern, when
	// set, is what a value must match. Neither: hex or decimal, as above.
	enum    []string
	pattern *regexp.Regexp
	// each: the claim is a list (of event-log entries); the policy, not
	// the engine, compares every element with the values.
	each bool
}

func (s claimSpec) match(path string) bool {
	if !s.indexed {
		return path == s.name
	}
	rest, ok := strings.CutPrefix(path, s.name)
	if !ok {
		return false
	}
	n, err := strconv.Atoi(rest)
	// Canonical decimal only: "rtmr.02" and "rtmr.+2" are not "rtmr.2".
	return err == nil && strconv.Itoa(n) == rest && n >= s.lo && n <= s.hi
}

func (s claimSpec) String() string {
	if !s.indexed {
		return s.name
	}
	if s.lo == s.hi {
		return fmt.Sprintf("%s%d", s.name, s.lo)
	}
	return fmt.Sprintf("%s%d-%d", s.name, s.lo, s.hi)
}

func hexClaim(name, what string, sizes ...int) claimSpec {
	return claimSpec{name: name, sizes: sizes, what: what}
}

func hexFamily(prefix string, lo, hi int, what string, sizes ...int) claimSpec {
	return claimSpec{name: prefix, indexed: true, lo: lo, hi: hi, sizes: sizes, what: what}
}

// The claims of each kind reference values may name, with the sizes their
// specifications give.
var (
	// SEV-SNP ABI (AMD 56860), Table 23 ATTESTATION_REPORT.
	snpClaims = []claimSpec{
		hexClaim("measurement", "MEASUREMENT, the launch digest", 48),
		hexClaim("host_data", "HOST_DATA, data the host supplied at launch", 32),
		hexClaim("id_key_digest", "ID_KEY_DIGEST, SHA-384 of the ID block's signing key", 48),
		hexClaim("author_key_digest", "AUTHOR_KEY_DIGEST, SHA-384 of the ID key's author key", 48),
		hexClaim("family_id", "FAMILY_ID from the ID block", 16),
		hexClaim("image_id", "IMAGE_ID from the ID block", 16),
		hexClaim("chip_id", "CHIP_ID, to pin one processor", 64),
	}
	// Intel TDX module ABI, TDREPORT / TD quote body.
	tdxClaims = []claimSpec{
		hexClaim("mr_td", "MRTD, the initial TD image (TDVF)", 48),
		hexFamily("rtmr.", 0, 3, "RTMR[i], run-time measurement registers", 48),
		hexClaim("mr_config_id", "MRCONFIGID", 48),
		hexClaim("mr_owner", "MROWNER", 48),
		hexClaim("mr_owner_config", "MROWNERCONFIG", 48),
		hexClaim("mr_seam", "MRSEAM, the TDX module", 48),
		hexClaim("mr_signer_seam", "MRSIGNERSEAM, the TDX module's signer", 48),
		hexClaim("mr_service_td", "MRSERVICETD (TDX 1.5)", 48),
	}
	// Intel SGX sgx_report_body_t.
	sgxClaims = []claimSpec{
		hexClaim("mr_enclave", "MRENCLAVE", 32),
		hexClaim("mr_signer", "MRSIGNER", 32),
		{name: "isv_prod_id", max: 0xffff, what: "ISVPRODID, decimal"},
		{name: "isv_svn", max: 0xffff, minimum: true, what: "ISVSVN, decimal: the minimum accepted"},
		hexClaim("config_id", "CONFIGID", 64),
	}
	// TPM 2.0 PCRs by bank (TCG PC Client PFP: PCRs 0-23), sized by the
	// bank's hash.
	tpmPCRClaims = []claimSpec{
		hexFamily("pcrs.sha1.", 0, 23, "PCR in the SHA-1 bank", 20),
		hexFamily("pcrs.sha256.", 0, 23, "PCR in the SHA-256 bank", 32),
		hexFamily("pcrs.sha384.", 0, 23, "PCR in the SHA-384 bank", 48),
	}
	// What the TPM's boot event log says (verifier/tpm: claims under
	// event_log, trusted only when the log replays to the quoted PCRs),
	// judged by the default TPM policy rather than as opaque PCR values.
	tpmEventLogClaims = []claimSpec{
		{name: "event_log.secure_boot", enum: []string{"true", "false"}, what: "the SecureBoot variable measured into PCR 7"},
		{name: "event_log.kernel_cmdline", each: true, pattern: cmdlinePattern,
			what: "a kernel command line as the boot loader logged it (PCR 8/9/12): every logged command line must equal one"},
		{name: "event_log.boot_applications.sha1", each: true, sizes: []int{20}, what: "PE Authenticode SHA-1 of a boot application (PCR 4): every loaded image must be one"},
		{name: "event_log.boot_applications.sha256", each: true, sizes: []int{32}, what: "PE Authenticode SHA-256 of a boot application (PCR 4): every loaded image must be one"},
		{name: "event_log.boot_applications.sha384", each: true, sizes: []int{48}, what: "PE Authenticode SHA-384 of a boot application (PCR 4): every loaded image must be one"},
	}
	// AWS Nitro Enclaves: NSM API 2.2, PCRs 0-31, SHA-384.
	nitroClaims = []claimSpec{
		hexFamily("pcrs.", 0, 31, "PCR (0 image, 1 kernel, 2 application, 3 IAM role, 4 instance ID, 8 signing certificate)", 48),
	}
	// Arm CCA, RMM specification DEN0137 A7.2.3: the realm measurements
	// are hashes of the realm hash algorithm (SHA-256 or SHA-512; SHA-384
	// admitted as ccatoken does), the personalization value 64 bytes, the
	// implementation ID 32 bytes, the instance ID a 33-byte UEID.
	ccaClaims = []claimSpec{
		hexClaim("realm.initial_measurement", "RIM, realm initial measurement", 32, 48, 64),
		hexFamily("realm.extensible_measurements.", 0, 3, "REM[i], realm extensible measurements", 32, 48, 64),
		hexClaim("realm.personalization_value", "realm personalization value", 64),
		hexClaim("platform.implementation_id", "platform implementation ID", 32),
		hexClaim("platform.instance_id", "platform instance ID (UEID)", 33),
		hexClaim("platform.sw_components", "a platform software component's measurement value: every component must match one", 32, 48, 64),
	}
)

// cmdlinePattern is a command line: printable text without control
// characters (what grub and systemd-stub log).
var cmdlinePattern = regexp.MustCompile(`^[^\x00-\x1f\x7f]+$`)

// claimSpecs lists the claims of each policy kind. An Azure CVM's claims
// are its hardware report's (SNP or TDX) plus the vTPM's PCRs.
var claimSpecs = map[string][]claimSpec{
	"snp":   snpClaims,
	"tdx":   tdxClaims,
	"sgx":   sgxClaims,
	"tpm":   slices.Concat(tpmPCRClaims, tpmEventLogClaims),
	"nitro": nitroClaims,
	"cca":   ccaClaims,
	"azcvm": slices.Concat(snpClaims, tdxClaims, tpmPCRClaims),
}

// Kinds lists the TEE kinds reference values and default policies exist
// for, sorted.
func Kinds() []string {
	return []string{"azcvm", "cca", "nitro", "sgx", "snp", "tdx", "tpm"}
}

// KnownClaims lists the claim paths reference values of a TEE kind may
// name, indexed families as ranges ("rtmr.0-3"); nil for an unknown kind.
func KnownClaims(tee string) []string {
	specs, ok := claimSpecs[tee]
	if !ok {
		return nil
	}
	out := make([]string, 0, len(specs)+len(tcbClaimSpecs[tee]))
	for _, s := range slices.Concat(specs, tcbClaimSpecs[tee]) {
		out = append(out, s.String())
	}
	return out
}

// specOf finds the claim a reference value path names: a claim of the
// evidence, or a TCB policy claim (tcb.go).
func specOf(tee, claim string) (claimSpec, bool) {
	for _, s := range claimSpecs[tee] {
		if s.match(claim) {
			return s, true
		}
	}
	return tcbSpecOf(tee, claim)
}

// Validate judges one reference value against what is already known (the
// values before it in a file, or those in a store; known must not contain
// rv itself). It returns nil or every problem found, joined, each a
// *ValidationError:
//
//   - id, tee, claim, value and state must be given; version at least 1;
//   - the tee must be a known kind and the claim one of its claims
//     (KnownClaims), else the message lists the known ones;
//   - the value must be lowercase hex of a length the claim has (SNP
//     measurement 48 bytes, host_data 32; TDX registers 48; SGX
//     mr_enclave and mr_signer 32; TPM PCRs 20, 32 or 48 by bank; Nitro
//     PCRs 48; CCA per the realm hash algorithm), or, for SGX isv_prod_id
//     and isv_svn, a decimal number up to 65535;
//   - a value equal to a known value of the same claim byte-reversed is
//     refused: one of the two was copied from a tool that prints the
//     register in reverse byte order;
//   - not_after must be after not_before when both are given;
//   - a revoked value must carry a provenance note saying why;
//   - the id and version, or the tee, workload, claim and value, must not
//     be known already.
func Validate(rv RefValue, known []RefValue) error {
	var errs []error
	bad := func(field string, kind error, format string, a ...any) {
		errs = append(errs, &ValidationError{ID: rv.ID, Field: field, Kind: kind, Detail: fmt.Sprintf(format, a...)})
	}
	for _, f := range []struct{ name, v string }{{"id", rv.ID}, {"tee", rv.TEE}, {"claim", rv.Claim}, {"value", rv.Value}, {"state", string(rv.State)}} {
		if f.v == "" {
			bad(f.name, ErrMissing, "%s is required", f.name)
		}
	}
	if rv.State != "" && !rv.State.valid() {
		bad("state", ErrState, "state is %q, want staged, active, deprecated or revoked", rv.State)
	}
	if rv.Version < 1 {
		bad("version", ErrState, "version is %d, want 1 or more", rv.Version)
	}
	if !rv.NotBefore.IsZero() && !rv.NotAfter.IsZero() && !rv.NotAfter.After(rv.NotBefore) {
		bad("not_after", ErrWindow, "not_after %s is not after not_before %s", formatTime(rv.NotAfter), formatTime(rv.NotBefore))
	}
	if rv.State == StateRevoked && strings.TrimSpace(rv.Provenance.Note) == "" {
		bad("provenance.note", ErrNoNote, "a revoked value needs a note saying why it was revoked")
	}

	_, teeOK := claimSpecs[rv.TEE]
	if rv.TEE != "" && !teeOK {
		bad("tee", ErrUnknownTEE, "tee is %q, want one of %s", rv.TEE, strings.Join(Kinds(), ", "))
	}
	var spec claimSpec
	specOK := false
	if teeOK && rv.Claim != "" {
		spec, specOK = specOf(rv.TEE, rv.Claim)
		if !specOK {
			bad("claim", ErrUnknownClaim, "%s has no claim %q that reference values apply to; known: %s",
				rv.TEE, rv.Claim, strings.Join(KnownClaims(rv.TEE), ", "))
		}
	}
	if specOK && rv.Value != "" {
		if err := checkValue(spec, rv.Value); err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				ve.ID = rv.ID
				errs = append(errs, ve)
			}
		}
	}

	for _, k := range known {
		if rv.ID != "" && k.ID == rv.ID && k.Version == rv.Version {
			bad("id", ErrDuplicate, "id %q version %d is already known", rv.ID, rv.Version)
		}
		if k.ID != rv.ID && rv.Value != "" && k.TEE == rv.TEE && k.Claim == rv.Claim && k.Workload == rv.Workload && k.Value == rv.Value {
			bad("value", ErrDuplicate, "%s %s has this value already under id %q (%s)", rv.TEE, rv.Claim, k.ID, k.State)
		}
		if specOK && len(spec.sizes) > 0 && k.TEE == rv.TEE && k.Claim == rv.Claim && k.ID != rv.ID {
			if rev, ok := reversedHex(rv.Value); ok && rev == k.Value && rev != rv.Value {
				bad("value", ErrByteReversed, "%s", reversedDetail(rv, k))
			}
		}
	}
	return errors.Join(errs...)
}

// ValidateAll validates each value against the values before it, and
// returns every problem, joined.
func ValidateAll(rvs []RefValue) error {
	var errs []error
	for i, rv := range rvs {
		if err := Validate(rv, rvs[:i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func checkValue(s claimSpec, v string) error {
	bad := func(kind error, format string, a ...any) error {
		return &ValidationError{Field: "value", Kind: kind, Detail: fmt.Sprintf(format, a...)}
	}
	switch {
	case s.enum != nil:
		if !slices.Contains(s.enum, v) {
			return bad(ErrEncoding, "%s is one of %s, got %q", s, strings.Join(s.enum, ", "), v)
		}
		return nil
	case s.pattern != nil:
		if !s.pattern.MatchString(v) {
			return bad(ErrEncoding, "%s (%s) must match %s, got %q", s, s.what, s.pattern, v)
		}
		return nil
	}
	if len(s.sizes) == 0 {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || strconv.FormatUint(n, 10) != v {
			return bad(ErrEncoding, "%s is a number: want a decimal integer without sign or leading zeros, got %q", s, v)
		}
		if n > s.max {
			return bad(ErrEncoding, "%s is at most %d, got %d", s, s.max, n)
		}
		return nil
	}
	if strings.HasPrefix(v, "0x") || strings.HasPrefix(v, "0X") {
		return bad(ErrEncoding, "%s: write the hex without a 0x prefix", s)
	}
	if _, err := hex.DecodeString(v); err != nil {
		return bad(ErrEncoding, "%s: not hex: %v", s, err)
	}
	if strings.ToLower(v) != v {
		return bad(ErrEncoding, "%s: hex must be lowercase (claims are compared as lowercase hex): write %s", s, strings.ToLower(v))
	}
	n := len(v) / 2
	if !slices.Contains(s.sizes, n) {
		want := make([]string, len(s.sizes))
		for i, z := range s.sizes {
			want[i] = fmt.Sprintf("%d (%d hex digits)", z, 2*z)
		}
		return bad(ErrLength, "%s (%s) is %s bytes; got %d bytes (%d hex digits)", s, s.what, strings.Join(want, " or "), n, len(v))
	}
	return nil
}

// reversedHex returns the hex string of v's bytes in reverse order.
func reversedHex(v string) (string, bool) {
	b, err := hex.DecodeString(v)
	if err != nil {
		return "", false
	}
	slices.Reverse(b)
	return hex.EncodeToString(b), true
}

func reversedDetail(rv, k RefValue) string {
	why := "some tools print measurement registers in reverse byte order"
	if rv.TEE == "tdx" || rv.TEE == "azcvm" {
		why = "the same TDX MRTD or RTMR appears byte-reversed in the output of some widely used tools"
	}
	return fmt.Sprintf("%s %s is the value of %q (%s) with its bytes reversed: %s. Assay compares the bytes in the order the evidence carries them (the TD quote body for TDX); one of the two values was copied from byte-reversed output and would never match. Check it against `assay verify -o json`",
		rv.TEE, rv.Claim, k.ID, k.State, why)
}
