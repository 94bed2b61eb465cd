package attester

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"

	"github.com/assay-dev/assay/verifier/tpm"
)

// TPM gathers a TPM 2.0 quote: an attestation key (a restricted ECDSA
// P-256 signing key, created as a primary in the endorsement hierarchy,
// so the same TPM always yields the same AK and one enrolment lasts),
// TPM2_Quote over the selected SHA-256 PCRs with the report data as
// qualifying data, and the PCR values. The files are the ones tpm2-tools
// writes (quote.msg, quote.sig, quote.pcrs) plus the AK (ak.pub, a
// TPM2B_PUBLIC, and ak.pem), so a server appraises them as it would
// tpm2_quote's output. The AK must be enrolled with the server (credential
// activation, docs/tpm.md) or vouched for by a cloud AK certificate.
type TPM struct {
	// Open returns the TPM; nil opens /dev/tpmrm0 (the kernel's resource
	// manager). The transport is closed after each Evidence call when it
	// implements io.Closer.
	Open func() (transport.TPM, error)
	// PCRs to quote; nil is 0-7.
	PCRs []uint
}

// AKTemplate is the AK that TPM creates: restricted, fixedTPM, ECDSA
// P-256 with SHA-256 (TCG EK Credential Profile 2.0, section 2.1.5).
var AKTemplate = tpm2.TPMTPublic{
	Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
		UserWithAuth: true, NoDA: true, Restricted: true, SignEncrypt: true},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Scheme: tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256})},
		CurveID: tpm2.TPMECCNistP256,
	}),
	Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
}

// Evidence implements Source.
func (t TPM) Evidence(ctx context.Context, reportData []byte) (files []File, err error) {
	if len(reportData) > 64 {
		return nil, fmt.Errorf("report data is %d bytes; a TPM quote's qualifying data takes at most 64", len(reportData))
	}
	open := t.Open
	if open == nil {
		open = func() (transport.TPM, error) { return linuxtpm.Open("/dev/tpmrm0") }
	}
	tp, err := open()
	if err != nil {
		return nil, fmt.Errorf("open the TPM: %w", err)
	}
	if c, ok := tp.(interface{ Close() error }); ok {
		defer c.Close()
	}
	ak, err := (tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHEndorsement, InPublic: tpm2.New2B(AKTemplate)}).Execute(tp)
	if err != nil {
		return nil, fmt.Errorf("create the AK: %w", err)
	}
	defer func() {
		if _, ferr := (tpm2.FlushContext{FlushHandle: ak.ObjectHandle}).Execute(tp); ferr != nil {
			err = errors.Join(err, fmt.Errorf("flush the AK: %w", ferr))
		}
	}()
	pcrs := t.PCRs
	if pcrs == nil {
		pcrs = []uint{0, 1, 2, 3, 4, 5, 6, 7}
	}
	sel := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(pcrs...)}}}
	q, values, err := quoteConsistent(ctx, tp, tpm2.NamedHandle{Handle: ak.ObjectHandle, Name: ak.Name}, reportData, sel)
	if err != nil {
		return nil, err
	}
	pf := &tpm.PCRFile{Selection: sel.PCRSelections, Values: values}
	pub, err := ak.OutPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("AK public: %w", err)
	}
	key, err := tpm2.Pub(*pub)
	if err != nil {
		return nil, fmt.Errorf("AK public: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("AK public: %w", err)
	}
	return []File{
		{Name: "quote.msg", Data: q.Attest},
		{Name: "quote.sig", Data: q.Signature},
		{Name: "quote.pcrs", Data: tpm.MarshalPCRFile(pf)},
		{Name: "ak.pub", Data: tpm2.Marshal(ak.OutPublic)},
		{Name: "ak.pem", Data: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})},
	}, nil
}
