package tcg

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"fmt"
)

// MaxOffenses is how many offending entries an appraisal lists.
const MaxOffenses = 10

// IMAAppraisal is the judgement of an IMA measurement list's file
// entries against an allow list and signing keys. Counts are of entries:
// a file measured twice (it changed, or its measurement was invalidated)
// counts twice.
type IMAAppraisal struct {
	// Judged are the file entries judged: those of the PCR asked for,
	// within the bound prefix, that name a file (not ima-buf buffers,
	// not boot_aggregate unless the allow list names it, not excluded).
	Judged int `json:"judged"`
	// Excluded entries match an exclude pattern of the allow list.
	Excluded int `json:"excluded,omitempty"`
	// NotFiles are entries that record no file: ima-buf buffers, custom
	// templates without a digest and path, boot_aggregate when the allow
	// list does not name it.
	NotFiles int `json:"not_files,omitempty"`

	// Allow list (zero without one). Allowed: the path is listed with
	// this digest. NotInAllowList: the path is not listed.
	// DigestNotAllowed: the path is listed with other digests.
	// SignedNotListed: not allowed by the list but validly signed, which
	// accepts a file as Keylime does.
	Allowed          int `json:"allowed"`
	NotInAllowList   int `json:"not_in_allow_list"`
	DigestNotAllowed int `json:"digest_not_allowed"`
	SignedNotListed  int `json:"signed_not_listed,omitempty"`

	// Signatures (ima-sig, ima-sigv2, ima-modsig; other templates have
	// no sig field and count as unsigned). SignatureValid and
	// SignatureInvalid are zero without keys; SignatureUnchecked counts
	// the signatures then left unchecked.
	SignatureValid     int `json:"signature_valid"`
	SignatureInvalid   int `json:"signature_invalid"`
	SignatureUnchecked int `json:"signature_unchecked,omitempty"`
	Unsigned           int `json:"unsigned"`

	// Violations are entries recording an IMA violation (a file measured
	// while open for writing, or opened for writing while measured):
	// the content of the file is unknown.
	Violations int `json:"violations,omitempty"`

	// Offending are the first MaxOffenses entries that fail the allow
	// list or the signature check, in list order.
	Offending []IMAOffense `json:"offending,omitempty"`
	// PolicyFailures and SignatureFailures count the entries that fail
	// each judgement (an entry may fail both).
	PolicyFailures    int `json:"-"`
	SignatureFailures int `json:"-"`
}

// IMAOffense is an entry that fails the appraisal.
type IMAOffense struct {
	Num    int    `json:"num"`
	Path   string `json:"path"`
	Digest string `json:"digest,omitempty"` // "sha256:…"
	Reason string `json:"reason"`
}

// imaFile is what an entry says about a file.
type imaFile struct {
	path    string
	alg     crypto.Hash // 0 when Go has no such hash
	algName string
	digest  []byte
	sig     []byte
	hasSig  bool // the template has a sig field (it may be empty)
	verity  bool // the d-ngv2 digest type is "verity": an fs-verity digest
}

// fileOf decodes the file measurement of a template entry; false when
// the entry names no file (ima-buf, unknown templates).
func fileOf(e *IMAEntry) (imaFile, bool) {
	names := imaTemplateFields[e.Template]
	if names == nil || e.Template == "ima-buf" || len(e.Fields) != len(names) {
		return imaFile{}, false
	}
	var f imaFile
	var haveDigest, haveName bool
	for i, name := range names {
		v := e.Fields[i]
		switch name {
		case "d":
			f.alg, f.algName, f.digest, haveDigest = crypto.SHA1, "sha1", v, true
		case "d-ng", "d-ngv2":
			typ, algName, _ := imaDigestField(v, name == "d-ngv2")
			f.algName, f.verity = algName, typ == "verity"
			f.alg = hashByName(algName)
			if k := bytes.IndexByte(v, 0); k >= 0 && bytes.HasSuffix(v[:k], []byte(":")) {
				f.digest = v[k+1:]
			} else {
				f.digest = v
			}
			haveDigest = true
		case "n", "n-ng":
			if k := bytes.IndexByte(v, 0); k >= 0 {
				v = v[:k]
			}
			f.path, haveName = string(v), true
		case "sig":
			f.sig, f.hasSig = v, true
		}
	}
	return f, haveDigest && haveName
}

// hashByName maps the algorithm names of d-ng fields (the kernel's
// hash_algo_name) to Go hashes; 0 for those Go lacks.
func hashByName(n string) crypto.Hash {
	switch n {
	case "md5":
		return crypto.MD5
	case "sha1":
		return crypto.SHA1
	case "sha224":
		return crypto.SHA224
	case "sha256":
		return crypto.SHA256
	case "sha384":
		return crypto.SHA384
	case "sha512":
		return crypto.SHA512
	}
	return 0
}

// Appraise judges the file entries among the first n entries of the
// list (those a quote binds; n <= 0 or beyond the list means all) that
// were extended into pcr. policy nil skips the allow list, keys nil the
// signature check (signatures are then counted as unchecked). It never
// fails: undecodable entries and signatures are offenses.
//
// An entry passes the allow list when its path is listed with its
// digest, or (with keys) when it carries a valid signature, as in
// Keylime (keylime/ima/ima.py, _validate_ima_sig). It fails the
// signature check when its signature does not verify with the keys
// given; without an allow list, also when it is unsigned (nothing else
// would accept it). Violations fail whichever judgement is made.
func (l *IMALog) Appraise(n, pcr int, policy *IMAPolicy, keys []IMAKey) *IMAAppraisal {
	a := &IMAAppraisal{}
	if n <= 0 || n > len(l.Entries) {
		n = len(l.Entries)
	}
	offend := func(num int, f imaFile, reason string) {
		if len(a.Offending) < MaxOffenses {
			o := IMAOffense{Num: num, Path: f.path, Reason: reason}
			if len(f.digest) > 0 {
				o.Digest = f.algName + ":" + hex.EncodeToString(f.digest)
			}
			a.Offending = append(a.Offending, o)
		}
	}
	for i := 0; i < n; i++ {
		e := &l.Entries[i]
		if e.PCR != pcr {
			continue
		}
		f, ok := fileOf(e)
		if !ok {
			a.NotFiles++
			continue
		}
		if f.path == "boot_aggregate" {
			if _, listed := policy.lookup(f.path); !listed {
				a.NotFiles++
				continue
			}
		}
		if policy != nil && policy.Excluded(f.path) {
			a.Excluded++
			continue
		}
		a.Judged++
		if e.Violation() {
			a.Violations++
			if policy != nil {
				a.PolicyFailures++
			}
			if keys != nil {
				a.SignatureFailures++
			}
			if policy != nil || keys != nil {
				offend(e.Num, f, "IMA violation: the file was open for writing when measured, its content is unknown")
			}
			continue
		}
		// Signature.
		sigValid := false
		switch {
		case !f.hasSig || len(f.sig) == 0:
			a.Unsigned++
			if keys != nil && policy == nil {
				a.SignatureFailures++
				offend(e.Num, f, "unsigned, and no allow list was given to accept it")
			}
		case keys == nil:
			a.SignatureUnchecked++
		default:
			err := verifyFileSig(f, keys)
			if err == nil {
				a.SignatureValid++
				sigValid = true
			} else {
				a.SignatureInvalid++
				a.SignatureFailures++
				offend(e.Num, f, "signature: "+err.Error())
			}
		}
		// Allow list.
		if policy == nil {
			continue
		}
		listed, allowed := policy.Lookup(f.path, hex.EncodeToString(f.digest))
		switch {
		case allowed:
			a.Allowed++
		case sigValid:
			a.SignedNotListed++
		case listed:
			a.DigestNotAllowed++
			a.PolicyFailures++
			offend(e.Num, f, "the allow list has other digests for this path")
		default:
			a.NotInAllowList++
			a.PolicyFailures++
			offend(e.Num, f, "not in the allow list")
		}
	}
	return a
}

func (p *IMAPolicy) lookup(path string) ([]string, bool) {
	if p == nil {
		return nil, false
	}
	ds, ok := p.Digests[path]
	return ds, ok
}

func verifyFileSig(f imaFile, keys []IMAKey) error {
	s, err := ParseIMASignature(f.sig)
	if err != nil {
		return err
	}
	if f.alg == 0 || !f.alg.Available() {
		return fmt.Errorf("%w: the measurement's hash %q", ErrUnsupported, f.algName)
	}
	return s.VerifyMeasurement(keys, f.alg, f.digest, f.verity)
}
