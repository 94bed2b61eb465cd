package testutil

import (
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// WriteNV defines an NV index readable by its own (empty) authorization
// and by the owner, writable by the owner, and writes data to it, as a
// TPM manufacturer provisions an EK certificate (TCG EK Credential
// Profile 2.x, section 2.2.1.5).
func WriteNV(t *testing.T, tp transport.TPM, idx tpm2.TPMHandle, data []byte) {
	t.Helper()
	owner := tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}
	pub := tpm2.TPMSNVPublic{NVIndex: idx, NameAlg: tpm2.TPMAlgSHA256,
		Attributes: tpm2.TPMANV{OwnerWrite: true, OwnerRead: true, AuthRead: true, NoDA: true, NT: tpm2.TPMNTOrdinary},
		DataSize:   uint16(len(data))}
	if _, err := (tpm2.NVDefineSpace{AuthHandle: owner, PublicInfo: tpm2.New2B(pub)}).Execute(tp); err != nil {
		t.Fatalf("NV_DefineSpace %#x: %v", idx, err)
	}
	rp, err := (tpm2.NVReadPublic{NVIndex: idx}).Execute(tp)
	if err != nil {
		t.Fatalf("NV_ReadPublic %#x: %v", idx, err)
	}
	for off := 0; off < len(data); off += 512 {
		end := min(off+512, len(data))
		if _, err := (tpm2.NVWrite{AuthHandle: owner, NVIndex: tpm2.NamedHandle{Handle: idx, Name: rp.NVName},
			Data: tpm2.TPM2BMaxNVBuffer{Buffer: data[off:end]}, Offset: uint16(off)}).Execute(tp); err != nil {
			t.Fatalf("NV_Write %#x at %d: %v", idx, off, err)
		}
	}
}
