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
	// seen maps claim and value to the ID that has it: a value stated
	// twice (a realm's RIM as instance and as register) is kept once.
	seen map[string]string
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
	where := func(i, j int) string { return fmt.Sprintf("%s: CoMID %s, triple %d", src.path, c.CoMIDs[i].TagID, j) }
	for i, m := range c.CoMIDs {
		for j, t := range m.Reference {
			emit := func(claim, suffix string, v []byte) {
				key := claim + "=" + hex.EncodeToString(v)
				if _, dup := im.seen[key]; dup {
					return
				}
				id := fmt.Sprintf("corim:%s/%s/%d/%s", c.ID, m.TagID, j, suffix)
				im.seen[key] = id
				im.values = append(im.values, policy.RefValue{
					ID: id, TEE: "cca", Claim: claim, Value: hex.EncodeToString(v), Workload: im.workload,
					State: im.state, Version: 1, NotBefore: nb, NotAfter: na,
					Provenance: policy.Provenance{Author: author, Source: source},
				})
			}
			skip := func(what string) { im.unmapped = append(im.unmapped, where(i, j)+": "+what) }
			switch c.Profile {
			case profileCCARealm:
				realmTriple(t, emit, skip)
			case profileCCAPlatform:
				platformTriple(t, emit, skip)
			default:
				skip(fmt.Sprintf("reference triple of profile %s: no mapping onto Assay claims (mapped: %s, %s)", orDash(c.Profile), profileCCARealm, profileCCAPlatform))
			}
		}
		for j := range m.AttestKeys {
			im.unmapped = append(im.unmapped, fmt.Sprintf("%s: CoMID %s, attest-key triple %d: a CPAK endorsement, not a reference value (give the CoRIM to assay verify as collateral)", src.path, m.TagID, j))
		}
		for _, k := range slices.Sorted(maps.Keys(m.Other)) {
			im.unmapped = append(im.unmapped, fmt.Sprintf("%s: CoMID %s: %d triples of triples-map key %d (not reference values)", src.path, m.TagID, m.Other[k], k))
		}
	}
	if c.OtherTags > 0 {
		im.unmapped = append(im.unmapped, fmt.Sprintf("%s: %d CoSWID or CoTL tags", src.path, c.OtherTags))
	}
}

type emitFunc func(claim, idSuffix string, value []byte)

// realmTriple maps a CCA realm reference triple (draft-ydb-rats-cca-
// endorsements, realm profile): the instance (tagged bytes) is the RIM;
// integrity registers rim and rem0-rem3 are the RIM and REMs; the raw
// value is the personalization value.
func realmTriple(t corim.ReferenceTriple, emit emitFunc, skip func(string)) {
	env := t.Environment
	switch {
	case env.Instance != nil && env.InstanceTag == corim.TagBytes:
		emit("realm.initial_measurement", "rim", env.Instance)
	case env.Instance != nil:
		skip(fmt.Sprintf("realm instance of CBOR tag %d, want %d (the RIM)", env.InstanceTag, corim.TagBytes))
	}
	for _, m := range t.Measurements {
		if m.RawValue != nil {
			emit("realm.personalization_value", "rpv", m.RawValue)
		}
		for _, name := range slices.Sorted(maps.Keys(m.IntegrityRegisters)) {
			claim := ""
			switch {
			case name == "rim":
				claim = "realm.initial_measurement"
			case len(name) == 4 && strings.HasPrefix(name, "rem") && name[3] >= '0' && name[3] <= '3':
				claim = "realm.extensible_measurements." + name[3:]
			default:
				skip(fmt.Sprintf("integrity register %q: a realm has rim and rem0-rem3", name))
				continue
			}
			for _, d := range m.IntegrityRegisters[name] {
				emit(claim, name, d.Value)
			}
		}
		unread(m, skip)
	}
}

// platformTriple maps a CCA platform reference triple (draft-ydb-rats-
// cca-endorsements, ssd profile): the class-id (implementation ID) and
// each software component's digests.
func platformTriple(t corim.ReferenceTriple, emit emitFunc, skip func(string)) {
	env := t.Environment
	if env.ClassIDTag == corim.TagImplID {
		emit("platform.implementation_id", "implementation_id", env.ClassID)
	} else if env.ClassID != nil {
		skip(fmt.Sprintf("class-id of CBOR tag %d, want %d (an implementation ID)", env.ClassIDTag, corim.TagImplID))
	}
	if env.Instance != nil {
		skip("an instance ID in a reference triple: platform instances are pinned by platform.instance_id reference values written by hand")
	}
	for _, m := range t.Measurements {
		switch {
		case m.Component != nil:
			for k, d := range m.Digests {
				emit("platform.sw_components", fmt.Sprintf("sw/%s@%s/%d", m.Component.Label, m.Component.Version, k), d.Value)
			}
			if len(m.Digests) == 0 {
				skip(fmt.Sprintf("software component %s %s has no digest", m.Component.Label, m.Component.Version))
			}
		case m.KeyTag == corim.TagCCAConfigID:
			skip(fmt.Sprintf("platform config %q (%x): Assay has no reference value claim for platform.config", m.KeyText, m.RawValue))
		default:
			skip(fmt.Sprintf("platform measurement with mkey tag %d %q: not a software component", m.KeyTag, m.KeyText))
		}
		unread(m, skip)
	}
}

func unread(m corim.Measurement, skip func(string)) {
	if m.SVN != nil {
		skip(fmt.Sprintf("svn %d: Assay's CCA claims carry no SVN", *m.SVN))
	}
	if len(m.Unread) > 0 {
		skip(fmt.Sprintf("measurement values of mval keys %v: not mapped", m.Unread))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
