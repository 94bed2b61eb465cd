package corimtest

import (
	"bytes"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/assay-dev/assay/internal/corim"
)

// The Intel profile's CoMIDs below are untagged CoMID maps, as the
// published samples are; a test wraps them in a CoRIM naming the profile
// (IntelProfileOID).

// intelOID is an Intel environment class OID 2.16.840.1.113741.1.2.3.x.y
// (content octets) tagged 111.
func intelOID(x, y byte) cbor.Tag {
	return tag(corim.TagOID, []byte{0x60, 0x86, 0x48, 0x01, 0x86, 0xf8, 0x4d, 0x01, 0x02, 0x03, x, y})
}

// intelEntity is the entity of veraison/corim's TDX samples.
func intelEntity() []any { return []any{entity("INTEL", "https://intel.com", 0)} }

// intelClass is a class-map of an Intel environment.
func intelClass(x, y byte, model string) map[int]any {
	return map[int]any{0: map[int]any{0: intelOID(x, y), 1: "Intel Corporation", 2: model}}
}

// intelKey is the authorized-by key of veraison/corim's TDX samples.
func intelKey() []any {
	return []any{tag(corim.TagPKIXBase64Key, "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFn0taoAwR3PmrKkYLtAsD9o05KSM6mbgfNCgpuL0g6VpTHkZl73wk5BDxoV7n+Oeee0iIqkW3HMZT3ETiniJdg==\n-----END PUBLIC KEY-----")}
}

// sampleDigest is the samples' synthetic SHA-256 value; their SHA-512
// value is it twice.
func sampleDigest(t testing.TB) []byte {
	return unhex(t, "a314fc2dc663ae7a6b6bc6787594057396e6b3f569cd50fd5ddb4d1bbafd2b6a")
}

// mrSigner is tee.mrsigner as the samples state it: member of
// {SHA-256, SHA-512 digests}.
func mrSigner(t testing.TB) cbor.Tag {
	d := sampleDigest(t)
	return tag(corim.TagSetDigestExpr, []any{corim.OpMember, []any{digest(1, d), digest(8, bytes.Repeat(d, 2))}})
}

func numeric(op, v int) cbor.Tag { return tag(corim.TagNumericExpression, []any{op, v}) }

func textSet(op int, s ...string) cbor.Tag { return tag(corim.TagSetTextExpr, []any{op, s}) }

// intelCoMID is a CoMID of one reference triple with one measurement of
// values mval, authorized by intelKey.
func intelCoMID(tagID any, class map[int]any, mval map[int]any) map[int]any {
	return map[int]any{
		1: map[int]any{0: tagID},
		2: intelEntity(),
		4: map[int]any{0: []any{[]any{class, []any{map[int]any{1: mval, 2: intelKey()}}}}},
	}
}

// TDXSEAM is an untagged CoMID with the content of veraison/corim's TDX
// SEAM sample, veraison/corim@53b3014ea9961c39641e256d25e473a63b433ecd,
// profiles/tdx/testcases/comid_seam_refval.cbor (source
// profiles/tdx/testcases/src/comid_seam_refval.diag; Apache-2.0): class
// 2.16.840.1.113741.1.2.3.4.3 "TDX SEAM"; tee.mrtee SHA-256, tee.mrsigner
// SHA-256 and SHA-512, tee.isvprodid as bytes, tee.isvsvn ≥ 6,
// attributes, tcb-eval-num.
func TDXSEAM(t testing.TB) []byte {
	t.Helper()
	return encode(t, intelCoMID(unhex(t, "3f06af63a93c11e4979700505690773f"), intelClass(4, 3, "TDX SEAM"), map[int]any{
		-73: numeric(corim.OpGe, 6),
		-82: []any{1, 2},
		-83: tag(corim.TagSetDigestExpr, []any{corim.OpMember, []any{digest(1, sampleDigest(t))}}),
		-84: mrSigner(t),
		-85: unhex(t, "abcd"),
		-86: numeric(corim.OpGe, 11),
	}))
}

// TDXQE is an untagged CoMID with the content of veraison/corim's SGX QE
// sample, the same commit, profiles/tdx/testcases/comid_qe_refval.cbor:
// class 2.16.840.1.113741.1.2.3.4.1 "SGX QE TCB"; miscselect,
// isvprodid 1, mrsigner, tcb-eval-num ≥ 11, advisory and TCB status sets.
func TDXQE(t testing.TB) []byte {
	t.Helper()
	return encode(t, intelCoMID("Sample SGX QE reference tag", intelClass(4, 1, "SGX QE TCB"), map[int]any{
		-81: unhex(t, "a0b0c0d000000000"),
		-84: mrSigner(t),
		-85: 1,
		-86: numeric(corim.OpGe, 11),
		-88: textSet(corim.OpMember, "UpToDate"),
		-89: textSet(corim.OpMember, "INTEL-SA-00078", "INTEL-SA-00079"),
	}))
}

// TDXPCE is an untagged CoMID with the content of veraison/corim's TDX
// PCE sample, the same commit, profiles/tdx/testcases/comid_pce_refval.cbor:
// class 2.16.840.1.113741.1.2.3.4.5 "TDX PCE TCB"; instance id, 16 TCB
// components (minimum SVNs), PCE id.
func TDXPCE(t testing.TB) []byte {
	t.Helper()
	var comps []any
	for _, svn := range []int{10, 10, 2, 2, 2, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0} {
		comps = append(comps, numeric(corim.OpGe, svn))
	}
	return encode(t, intelCoMID("Sample Provisioning Certification Enclave reference tag", intelClass(4, 5, "TDX PCE TCB"), map[int]any{
		-77:  unhex(t, "00112233445566778899aabbccddeeff"),
		-80:  "0000",
		-125: comps,
	}))
}

// IntelISVE is an untagged CoMID with the content of the Intel profile
// draft's SGX ISV enclave example,
// nedmsmith/draft-cds-rats-intel-corim-profile@b164507ed9b558ae008988c0a6ec580da9db1f4f,
// cddl/examples/irim-isve-ref-end.diag (diagnostic notation only; IETF
// Trust, code components under the Revised BSD License). One change: the
// draft's third measurement repeats key -89 where its comment says
// tcbstatus, a duplicate key CBOR forbids; it is -88 here. Class
// 2.16.840.1.113741.1.2.3.5.1: mrsigner (SHA-256, SHA-512), isvprodid 1,
// isvsvn ≥ 6, masked miscselect and attributes, TCB status and advisory
// sets (uint mkeys 1 and 2 for the other two measurements); an
// endorsed-values triple.
func IntelISVE(t testing.TB) []byte {
	t.Helper()
	class := map[int]any{0: map[int]any{0: intelOID(5, 1)}}
	return encode(t, map[int]any{
		1: map[int]any{0: "Sample SGX ISVE reference tag"},
		4: map[int]any{
			0: []any{[]any{class, []any{
				map[int]any{1: map[int]any{
					-73: numeric(corim.OpGe, 6),
					-81: tag(corim.TagMaskedRawValue, []any{make([]byte, 4), unhex(t, "fbffffff")}),
					-82: tag(corim.TagMaskedRawValue, []any{unhex(t, "c0000000000000000000000000000000"), unhex(t, "fbffffffffffffff0000000000000000")}),
					-84: mrSigner(t),
					-85: 1,
					-88: textSet(corim.OpMember, "UpToDate"),
					-89: textSet(corim.OpMember, "INTEL-SA-00078", "INTEL-SA-00079"),
				}},
				map[int]any{0: 1, 1: map[int]any{-88: []any{}, -89: []any{}}},
				map[int]any{0: 2, 1: map[int]any{
					-88: textSet(corim.OpNotMember, "OutOfDate", "SWHardeningNeeded", "ConfigurationNeeded"),
					-89: textSet(corim.OpNotMember, "NOT-AN-SA"),
				}},
			}}},
			1: []any{[]any{class, []any{map[int]any{1: map[int]any{-86: 11}}}}},
		},
	})
}
