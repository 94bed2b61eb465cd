package tcg_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// verityEntry makes an ima-sigv2 entry of an fs-verity measurement
// (d-ngv2 "verity:sha256:") signed as evmctl signs for fs-verity: a
// version 3 IMA_VERITY_DIGSIG signature over SHA-256 of struct
// ima_file_id {0x06, HASH_ALGO_SHA256 (4), the 32-byte verity digest}
// (Linux ima_appraise.c calc_file_id_hash), built here byte by byte.
func verityEntry(t *testing.T, key *ecdsa.PrivateKey, id [4]byte, path string, digestType string, sigType, version byte) imaEntry {
	t.Helper()
	verity := sha256.Sum256([]byte("fs-verity descriptor of " + path))
	fileID := append([]byte{0x06, 4}, verity[:]...)
	signed := sha256.Sum256(fileID)
	s, err := ecdsa.SignASN1(rand.Reader, key, signed[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := (&tcg.IMASignature{Type: sigType, Version: version, HashAlgo: 4, KeyID: id, Sig: s}).Marshal()
	d := append([]byte(digestType+":sha256:\x00"), verity[:]...)
	return imaEntry{pcr: 10, template: "ima-sigv2", fields: [][]byte{d, nng(path), sig}}
}

// TestIMAVeritySignature: a v3 fs-verity signature over struct
// ima_file_id verifies; the same signature on a content ("ima:")
// measurement, a v3 EVM_IMA_XATTR_DIGSIG (the kernel refuses those) and
// a v2 IMA_VERITY_DIGSIG do not.
func TestIMAVeritySignature(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, err := tcg.NewIMAKey(&k.PublicKey, nil, "verity-key")
	if err != nil {
		t.Fatal(err)
	}
	entries := []imaEntry{
		verityEntry(t, k, key.ID, "/usr/bin/ok", "verity", 0x06, 3),
		verityEntry(t, k, key.ID, "/usr/bin/not-verity", "ima", 0x06, 3),
		verityEntry(t, k, key.ID, "/usr/bin/v3-digsig", "verity", 0x03, 3),
		verityEntry(t, k, key.ID, "/usr/bin/v2-verity", "verity", 0x06, 2),
	}
	l, err := tcg.ParseIMA(imaList(t, binary.LittleEndian, crypto.SHA1, entries...))
	if err != nil {
		t.Fatal(err)
	}
	a := l.Appraise(0, tcg.IMAPCR, nil, []tcg.IMAKey{key})
	if a.SignatureValid != 1 || a.SignatureInvalid != 3 {
		t.Fatalf("valid %d, invalid %d, want 1 and 3: %+v", a.SignatureValid, a.SignatureInvalid, a.Offending)
	}
	bad := map[string]bool{}
	for _, o := range a.Offending {
		bad[o.Path] = true
	}
	if bad["/usr/bin/ok"] || !bad["/usr/bin/not-verity"] || !bad["/usr/bin/v3-digsig"] || !bad["/usr/bin/v2-verity"] {
		t.Errorf("offending %+v", a.Offending)
	}
	// A flipped byte of the verity digest breaks the signature.
	e := verityEntry(t, k, key.ID, "/usr/bin/flip", "verity", 0x06, 3)
	e.fields[0][len(e.fields[0])-1] ^= 1
	l, err = tcg.ParseIMA(imaList(t, binary.LittleEndian, crypto.SHA1, e))
	if err != nil {
		t.Fatal(err)
	}
	if a := l.Appraise(0, tcg.IMAPCR, nil, []tcg.IMAKey{key}); a.SignatureValid != 0 || a.SignatureInvalid != 1 {
		t.Errorf("flipped digest: %+v", a)
	}
}
