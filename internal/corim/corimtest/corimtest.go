// Package corimtest is for tests only: it builds CoRIMs and CoMIDs whose
// logical content is that of published samples (Veraison's and
// veraison/corim's test inputs, the Intel profile draft's example), so
// that tests and fuzz seeds need no copies of those files. The bytes are
// this package's own encoding (core deterministic, RFC 8949 section
// 4.2.1): they are re-encodings of the content, not the published files.
// The values are the samples' test vectors, synthetic (0x43 repeated,
// 0xa314fc2d…); each builder names its source.
//
// A builder fails the test it is given if encoding fails; it never
// panics.
package corimtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"

	"github.com/assay-dev/assay/internal/corim"
)

// Source commits of the samples (see each builder).
const (
	// VeraisonServices is github.com/veraison/services at the commit the
	// SEV-SNP, Parsec TPM and EnactTrust samples are from.
	VeraisonServices = "veraison/services@6b88102970509c5a731ea90c72cb79730269b5f3"
	// VeraisonCoRIM is github.com/veraison/corim at the commit the TDX
	// CoMIDs and the signed example are from.
	VeraisonCoRIM = "veraison/corim@53b3014ea9961c39641e256d25e473a63b433ecd"
	// IntelProfileDraft is the Intel profile draft's repository at the
	// commit the SGX ISV enclave example is from.
	IntelProfileDraft = "nedmsmith/draft-cds-rats-intel-corim-profile@b164507ed9b558ae008988c0a6ec580da9db1f4f"
)

// IntelProfileOID is the Intel profile's OID, 2.16.840.1.113741.1.16.1
// (corim.ProfileIntel), in content octets.
var IntelProfileOID = []byte{0x60, 0x86, 0x48, 0x01, 0x86, 0xf8, 0x4d, 0x01, 0x10, 0x01}

func encode(t testing.TB, v any) []byte {
	t.Helper()
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := em.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tag(n uint64, v any) cbor.Tag { return cbor.Tag{Number: n, Content: v} }

func uri(s string) cbor.Tag { return tag(corim.TagURI, s) }

// unsignedCoRIM is a tagged unsigned CoRIM of id and profile (a URI)
// whose CoMIDs are tag 506 over the CoMID's encoded bytes, as Veraison
// writes them.
func unsignedCoRIM(t testing.TB, id, profile string, comids ...map[int]any) []byte {
	t.Helper()
	tags := []any{}
	for _, m := range comids {
		tags = append(tags, tag(corim.TagCoMID, encode(t, m)))
	}
	return encode(t, tag(corim.TagUnsignedCoRIM, map[int]any{0: id, 1: tags, 3: uri(profile)}))
}

// entity is a CoMID entity-map: name, registration URI, roles.
func entity(name, regid string, roles ...int) map[int]any {
	return map[int]any{0: name, 1: uri(regid), 2: roles}
}

// digest is a digests-type entry: [hash-alg-id, value].
func digest(alg int, v []byte) []any { return []any{alg, v} }

// SEVSNP is an unsigned CoRIM with the content of Veraison's SEV-SNP
// sample, veraison/services@6b88102970509c5a731ea90c72cb79730269b5f3,
// scheme/sevsnp/test/corim/corim-sevsnp-valid.cbor (source
// scheme/sevsnp/test/corim/src/comid-sevsnp-refval.json; Apache-2.0):
// profile tag:amd.com,2024:snp-corim-profile; a reference triple for
// class OID 1.3.6.1.4.1.3704.3.1 by chip (instance 48 tagged bytes),
// measurements keyed by the uint mkeys of
// draft-deeglaze-amd-sev-snp-corim-profile; a second CoMID with an
// attest-key triple, AMD's ARK-Genoa certificate.
func SEVSNP(t testing.TB) []byte {
	t.Helper()
	measurement := unhex(t, "7699e6ac12ccdfd1dfac70e649ce1f046cb2afbb003438f4cdddfe2ccbe182fa5ffbe8dcdb930454324e10c52c788980")
	raw := func(mkey int, v []byte) map[int]any {
		return map[int]any{0: mkey, 1: map[int]any{4: tag(corim.TagBytes, v)}}
	}
	svn := func(mkey int, v uint64) map[int]any {
		return map[int]any{0: mkey, 1: map[int]any{1: tag(corim.TagSVN, v)}}
	}
	version := func(mkey int, v string, scheme int) map[int]any {
		return map[int]any{0: mkey, 1: map[int]any{0: map[int]any{0: v, 1: scheme}}}
	}
	const launchTCB = 6059311823650291722 // 0x541700000000000a
	reportData := unhex(t, "3319e2555e4bb7ad6c889e9d643d2250dfa4b4a50b441e47583b5a901bbc4fbe4fe747060f0132ca899faf80583733e49d5e751f00d5117711bc7150c1eb03c6")
	reportID := unhex(t, "f9d565204338222f54691d57a45f741b5767b7d2a92881c439f7ee9899a4b43b")
	chipID := unhex(t, "c2a6528b7364e07e9f5c653ab3aa0dbd7384f9a80dfde54cc643ddbb89d8936425ff8a32568ca6ed771020dc39c33ccffb3b43cac0c501a0093cad6012dfd3ed")
	ref := map[int]any{
		0: "en-GB",
		1: map[int]any{0: unhex(t, "f659d51036984b529dc639a0dd620998")},
		4: map[int]any{0: []any{[]any{
			map[int]any{
				0: map[int]any{0: tag(corim.TagOID, unhex(t, "2b060104019c780301"))},
				1: tag(corim.TagBytes, measurement),
			},
			[]any{
				// mkeys and field names as draft-deeglaze-amd-sev-snp-corim-profile
				// numbers them.
				version(0, "2", 4), // VERSION
				map[int]any{0: 1, 1: map[int]any{1: tag(corim.TagMinSVN, 0)}},         // GUEST_SVN
				raw(2, unhex(t, "0000000000030000")),                                  // POLICY
				raw(3, make([]byte, 16)),                                              // FAMILY_ID
				raw(4, make([]byte, 16)),                                              // IMAGE_ID
				raw(5, make([]byte, 4)),                                               // VMPL
				svn(6, 15208092991676743683),                                          // CURRENT_TCB
				raw(7, unhex(t, "0000000000000001")),                                  // PLATFORM_INFO
				raw(640, reportData),                                                  // REPORT_DATA
				map[int]any{0: 641, 1: map[int]any{2: []any{digest(7, measurement)}}}, // MEASUREMENT
				raw(645, reportID),                                                    // REPORT_ID
				raw(646, bytes.Repeat([]byte{0xff}, 32)),                              // REPORT_ID_MA
				svn(647, launchTCB),                                                   // REPORTED_TCB
				raw(3328, chipID),                                                     // CHIP_ID
				svn(3329, launchTCB),                                                  // COMMITTED_TCB
				version(3330, "1.55.8", 16384),                                        // CurrentVersion
				version(3936, "1.55.8", 16384),                                        // CommittedVersion
				svn(3968, launchTCB),                                                  // LAUNCH_TCB
			},
		}}},
	}
	ark := map[int]any{
		1: map[int]any{0: unhex(t, "00000000000000000000000a9406e40a")},
		4: map[int]any{3: []any{[]any{
			map[int]any{0: map[int]any{1: "Advanced Micro Devices", 2: "ARK-Genoa"}},
			[]any{tag(corim.TagPKIXBase64Cert, arkGenoa)},
		}}},
	}
	return unsignedCoRIM(t, "00000000-0000-0000-5596-0000000000001", "tag:amd.com,2024:snp-corim-profile", ref, ark)
}

// ParsecTPM is an unsigned CoRIM with the content of Veraison's Parsec
// TPM sample, veraison/services@6b88102970509c5a731ea90c72cb79730269b5f3,
// scheme/parsec-tpm/test/corim/corim-parsec-tpm-valid.cbor (Apache-2.0):
// profile tag:github.com/parallaxsecond,2023-03-03:tpm; PCRs 0, 1, 2 as
// uint mkeys, each a SHA-256 (zeros) and a SHA-384 digest; an attest-key
// triple.
func ParsecTPM(t testing.TB) []byte {
	t.Helper()
	class := map[int]any{0: tag(corim.TagUUID, unhex(t, "cd1f0e5526f9460db9d8f7fde171787c"))}
	parsec := []any{entity("Parsec", "https://github.com/parallaxsecond", 0, 1, 2)}
	pcr := func(i int, sha384 string) map[int]any {
		return map[int]any{0: i, 1: map[int]any{2: []any{digest(1, make([]byte, 32)), digest(7, unhex(t, sha384))}}}
	}
	const pcr01 = "4284b5694ca6c0d2cf4789a0b95ac8025c818de52304364be7cd2981b2d2edc685b322277ec25819962413d8c9b2c1f5"
	ref := map[int]any{
		1: map[int]any{0: unhex(t, "9901922457aa44bcbef8d36bdd6bd035")},
		2: parsec,
		4: map[int]any{0: []any{[]any{
			map[int]any{0: class},
			[]any{pcr(0, pcr01), pcr(1, pcr01), pcr(2, "2107bbe761fca52d95136a1354db7a4dd57b1b26be0d3da71d9eb23986b34ba615abf6514cf35e5a9ea55a032d068a78")},
		}}},
	}
	key := map[int]any{
		1: map[int]any{0: unhex(t, "eee06f93e9824dbc9585620a816c2e59")},
		2: parsec,
		4: map[int]any{3: []any{[]any{
			map[int]any{0: class, 1: tag(corim.TagBytes, unhex(t, "0188855459eeb9e9b34a46eb48cb39f2f6aa69da04522a326d123d5c501fce210c"))},
			[]any{tag(corim.TagPKIXBase64Key, "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2lB1xtcIWePIt/Wwt+s8Ybp+5ji8\nt2pzGDKSOG7xTGK5gOYkcLCHz4i4L/yGzyEmBO1mZFZNuJz14X0J24+XQQ==\n-----END PUBLIC KEY-----")},
		}}},
	}
	return unsignedCoRIM(t, "00000000-0000-0000-6768-0000000000001", "tag:github.com/parallaxsecond,2023-03-03:tpm", ref, key)
}

// EnactTrust is an unsigned CoRIM with the content of Veraison's
// EnactTrust sample, veraison/services@6b88102970509c5a731ea90c72cb79730269b5f3,
// scheme/tpm-enacttrust/test/corim/corim-enacttrust-valid.cbor
// (Apache-2.0): profile https://enacttrust.com/veraison/1.0.0; one
// SHA-256 digest (of a PCR selection, no mkey) for a node UUID instance;
// an attest-key triple.
func EnactTrust(t testing.TB) []byte {
	t.Helper()
	node := map[int]any{1: tag(corim.TagUUID, unhex(t, "7df7714eaa044638bcbf434b1dd720f1"))}
	et := []any{entity("EnactTrust", "https://enacttrust.com", 0, 1, 2)}
	tagID := func(last byte) []byte {
		id := make([]byte, 16)
		id[15] = last
		return id
	}
	ref := map[int]any{
		1: map[int]any{0: tagID(1)},
		2: et,
		4: map[int]any{0: []any{[]any{
			node,
			[]any{map[int]any{1: map[int]any{2: []any{digest(1, unhex(t, "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7"))}}}},
		}}},
	}
	key := map[int]any{
		1: map[int]any{0: tagID(2)},
		2: et,
		4: map[int]any{3: []any{[]any{
			node,
			[]any{tag(corim.TagPKIXBase64Key, "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEkLfat6Jif+izCEg/KBxcN6kF5seJqX1nEiDHtChzV3vJHIgqw4CrTunRP+liAiD3Rg9rLmmVbyUjPKXlwBdHxA==\n-----END PUBLIC KEY-----")},
		}}},
	}
	return unsignedCoRIM(t, "00000000-0000-0000-768e-0000000000001", "https://enacttrust.com/veraison/1.0.0", ref, key)
}

// SignedExample is a signed CoRIM with the content of veraison/corim's
// signed example, veraison/corim@53b3014ea9961c39641e256d25e473a63b433ecd,
// corim/testcases/signed-example-corim.cbor (Apache-2.0): ES256, kid "1",
// corim-meta signer "ACME Ltd signing key" (https://acme.example),
// validity 2022-01-01 to 2025-12-31; a CoRIM "test corim id" of profile
// http://example.com/example-profile with an extension key -1, whose
// measurements have UUID mkeys and an extension key -1. It is signed
// here by a P-256 key made for the call, whose public half is returned
// (the published one's key is not used).
func SignedExample(t testing.TB) ([]byte, crypto.PublicKey) {
	t.Helper()
	mkey := tag(corim.TagUUID, unhex(t, "31fb5abf023e4992aa4e95f9c1503bfa"))
	m := func(sha256 string) map[int]any {
		return map[int]any{0: mkey, 1: map[int]any{-1: 1720782190, 2: []any{digest(1, unhex(t, sha256))}}}
	}
	comid := map[int]any{
		0: "en-GB",
		1: map[int]any{0: unhex(t, "43bbe37f2e614b33aed353cff1428b16")},
		2: []any{map[int]any{-1: "123 Fake Street", 0: "ACME Ltd.", 1: uri("https://acme.example"), 2: []int{0, 1, 2}}},
		4: map[int]any{0: []any{[]any{
			map[int]any{0: map[int]any{0: tag(corim.TagBytes, []byte("acme-implementation-id-000000001")), 1: "ACME", 2: "RoadRunner"}},
			[]any{
				m("87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7"),
				m("0263829989b6fd954f72baaf2fc64bc2e2f01d692d4de72986ea808f6e99813f"),
				m("a3a5e715f0cc574a73c3f9bebb6bc24f32ffd5b67b387244c2c909da779a1478"),
			},
		}}},
	}
	payload := encode(t, tag(corim.TagUnsignedCoRIM, map[int]any{
		-1: "foo",
		0:  "test corim id",
		1:  []any{tag(corim.TagCoMID, encode(t, comid))},
		3:  uri("http://example.com/example-profile"),
	}))
	meta := encode(t, map[int]any{
		0: map[int]any{0: "ACME Ltd signing key", 1: uri("https://acme.example")},
		1: map[int]any{0: tag(1, 1640908800), 1: tag(1, 1767139200)},
	})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return SignES256(t, payload, key, map[any]any{cose.HeaderLabelKeyID: []byte("1"), int64(8): meta}), &key.PublicKey
}

// SignES256 signs payload (an unsigned CoRIM) with key as a signed
// CoRIM: a tagged COSE_Sign1 whose protected header has algorithm ES256,
// content type application/rim+cbor and the parameters of protected
// (corim-meta is label 8, its value the encoded corim-meta-map).
func SignES256(t testing.TB, payload []byte, key *ecdsa.PrivateKey, protected map[any]any) []byte {
	t.Helper()
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(cose.AlgorithmES256)
	msg.Headers.Protected[cose.HeaderLabelContentType] = corim.ContentType
	for k, v := range protected {
		msg.Headers.Protected[k] = v
	}
	msg.Payload = payload
	s, err := cose.NewSigner(cose.AlgorithmES256, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.Sign(rand.Reader, nil, s); err != nil {
		t.Fatal(err)
	}
	b, err := msg.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
