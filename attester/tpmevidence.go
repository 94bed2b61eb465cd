package attester

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/assay-dev/assay/verifier/tpm"
)

// Persistent handles and NV indices (docs/tpm.md, "assay attest tpm").
const (
	// EKHandleRSA is where the RSA 2048 EK lives: TCG TPM v2.0
	// Provisioning Guidance 1.0, persistent handles (the endorsement
	// range 0x81010000-0x8101FFFF, 0x81010001 for the EK).
	EKHandleRSA tpm2.TPMHandle = 0x81010001
	// EKHandleECC is where the ECC P-256 EK is conventionally persisted
	// (tpm2-tools, Keylime): the next endorsement handle.
	EKHandleECC tpm2.TPMHandle = 0x81010002
	// AKHandle is where the AK is persisted: the first endorsement handle
	// after the two EKs, so an AK never shadows an ECC EK at 0x81010002.
	AKHandle tpm2.TPMHandle = 0x81010003

	// NVEKCertRSA and NVEKCertECC hold the EK certificates of the
	// default (low range) RSA 2048 and ECC P-256 EK templates L-1 and
	// L-2: TCG EK Credential Profile for TPM Family 2.0, section 2.2.1.5.
	NVEKCertRSA tpm2.TPMHandle = 0x01C00002
	NVEKCertECC tpm2.TPMHandle = 0x01C0000A
	// The high range (same section): RSA 2048 (H-1), ECC P-256 (H-2),
	// ECC P-384 (H-3) and RSA 3072 (H-6) EK certificates.
	NVEKCertRSA2048High tpm2.TPMHandle = 0x01C00012
	NVEKCertECCP256High tpm2.TPMHandle = 0x01C00014
	NVEKCertECCP384High tpm2.TPMHandle = 0x01C00016
	NVEKCertRSA3072High tpm2.TPMHandle = 0x01C0001C
)

// ekCertIndices are the NV indices where the certificate of an EK of
// this key type may be, in the order they are tried.
func ekCertIndices(pub *tpm2.TPMTPublic) []tpm2.TPMHandle {
	switch pub.Type {
	case tpm2.TPMAlgRSA:
		if p, err := pub.Parameters.RSADetail(); err == nil && p.KeyBits == 3072 {
			return []tpm2.TPMHandle{NVEKCertRSA3072High}
		}
		return []tpm2.TPMHandle{NVEKCertRSA, NVEKCertRSA2048High}
	case tpm2.TPMAlgECC:
		if p, err := pub.Parameters.ECCDetail(); err == nil && p.CurveID == tpm2.TPMECCNistP384 {
			return []tpm2.TPMHandle{NVEKCertECCP384High}
		}
		return []tpm2.TPMHandle{NVEKCertECC, NVEKCertECCP256High}
	}
	return nil
}

// Default log locations (Linux securityfs).
const (
	DefaultEventLog = "/sys/kernel/security/tpm0/binary_bios_measurements"
	DefaultIMALog   = "/sys/kernel/security/ima/binary_runtime_measurements"
)

// TPMGather gathers a whole TPM attestation into one evidence file
// (tpm.EvidenceFile): the EK (persisted at its handle if absent), its
// certificate from NV, the AK (created and persisted if absent), a quote
// of the chosen PCRs over the nonce, the PCR values, and the logs.
type TPMGather struct {
	// ECC selects the ECC P-256 EK (template L-2, certificate at
	// NVEKCertECC, handle EKHandleECC); false is the RSA 2048 EK.
	ECC bool
	// EKHandle and AKHandle override the persistent handles; zero is
	// EKHandleRSA or EKHandleECC, and AKHandle.
	EKHandle, AKHandle tpm2.TPMHandle
	// PCRs to quote; nil is 0-7, and 8-10 too when an IMA log is read
	// (IMA's boot_aggregate covers 0-9 on Linux 5.8 and later; 10 is IMA's).
	PCRs []uint
	// Banks to quote; nil is SHA-256.
	Banks []tpm2.TPMAlgID
	// EventLog and IMALog are files to read; empty reads none.
	EventLog, IMALog string
	// AKCertificate is a certificate of the AK (DER) to include; nil is
	// none. For an IAK, its IAK certificate.
	AKCertificate []byte
	// IDevIDHandle is a persisted IDevID key to have the AK (the IAK)
	// certify with TPM2_Certify over the nonce; zero is none.
	IDevIDHandle tpm2.TPMHandle
	// IDevIDCertificate is its certificate (DER); nil is none.
	IDevIDCertificate []byte
}

// maxQuoteAttempts bounds how often a quote is retaken when a PCR moved
// between TPM2_Quote and TPM2_PCR_Read (IMA extends PCR 10 at any time).
const maxQuoteAttempts = 5

func (g TPMGather) handles() (ek, ak tpm2.TPMHandle) {
	ek, ak = g.EKHandle, g.AKHandle
	if ek == 0 {
		ek = EKHandleRSA
		if g.ECC {
			ek = EKHandleECC
		}
	}
	if ak == 0 {
		ak = AKHandle
	}
	return ek, ak
}

func (g TPMGather) ekTemplate() tpm2.TPMTPublic {
	if g.ECC {
		return tpm2.ECCEKTemplate
	}
	return tpm2.RSAEKTemplate
}

// Gather takes the attestation. The nonce becomes the quote's
// qualifying data (extraData): at most 64 bytes.
func (g TPMGather) Gather(ctx context.Context, tp transport.TPM, nonce []byte) (*tpm.EvidenceFile, error) {
	if len(nonce) > 64 {
		return nil, fmt.Errorf("nonce is %d bytes; a quote's qualifying data takes at most 64", len(nonce))
	}
	f := &tpm.EvidenceFile{AKCertificate: g.AKCertificate}
	var err error
	if f.EventLog, err = readLog(g.EventLog); err != nil {
		return nil, err
	}
	if f.IMALog, err = readLog(g.IMALog); err != nil {
		return nil, err
	}
	ekH, akH := g.handles()
	ek, err := g.EK(ctx, tp)
	if err != nil {
		return nil, err
	}
	f.EKPublic = tpm2.Marshal(ek.OutPublic)
	ekPub, err := ek.OutPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("EK public: %w", err)
	}
	var cert []byte
	var nv tpm2.TPMHandle
	for _, nv = range ekCertIndices(ekPub) {
		if cert, err = ReadEKCertificate(tp, nv); err != nil {
			return nil, err
		}
		if cert != nil {
			f.EKCertificates = [][]byte{cert}
			break
		}
	}
	ak, err := g.AK(ctx, tp)
	if err != nil {
		return nil, err
	}
	f.AKPublic = tpm2.Marshal(ak.OutPublic)
	f.Handles = &tpm.EvidenceHandles{EK: fmt.Sprintf("%#08x", uint32(ekH)), AK: fmt.Sprintf("%#08x", uint32(akH))}
	if cert != nil {
		f.Handles.EKCertificate = fmt.Sprintf("%#08x", uint32(nv))
	}
	pcrs := g.PCRs
	if pcrs == nil {
		pcrs = []uint{0, 1, 2, 3, 4, 5, 6, 7}
		if len(f.IMALog) > 0 {
			pcrs = append(pcrs, 8, 9, 10)
		}
	}
	banks := g.Banks
	if banks == nil {
		banks = []tpm2.TPMAlgID{tpm2.TPMAlgSHA256}
	}
	var sel tpm2.TPMLPCRSelection
	for _, b := range banks {
		sel.PCRSelections = append(sel.PCRSelections, tpm2.TPMSPCRSelection{Hash: b, PCRSelect: tpm2.PCClientCompatible.PCRs(pcrs...)})
	}
	q, values, err := quoteConsistent(ctx, tp, tpm2.NamedHandle{Handle: akH, Name: ak.Name}, nonce, sel)
	if err != nil {
		return nil, err
	}
	f.Quotes = []tpm.EvidenceQuote{q}
	f.PCRs = tpm.EvidencePCRs(values)
	if g.IDevIDHandle != 0 {
		if f.IDevID, err = g.certifyIDevID(tp, tpm2.NamedHandle{Handle: akH, Name: ak.Name}, nonce); err != nil {
			return nil, err
		}
		f.Handles.IDevID = fmt.Sprintf("%#08x", uint32(g.IDevIDHandle))
	}
	return f, nil
}

// certifyIDevID has the AK (an IAK) certify the IDevID key:
// TPM2_Certify (TPM 2.0 Part 3, section 18.2) with the nonce as
// qualifying data, both keys authorized by their (empty) passwords.
func (g TPMGather) certifyIDevID(tp transport.TPM, ak tpm2.NamedHandle, nonce []byte) (*tpm.EvidenceIDevID, error) {
	rp, err := (tpm2.ReadPublic{ObjectHandle: g.IDevIDHandle}).Execute(tp)
	if err != nil {
		return nil, fmt.Errorf("TPM2_ReadPublic IDevID %#08x: %w", uint32(g.IDevIDHandle), err)
	}
	c, err := (tpm2.Certify{
		ObjectHandle:   tpm2.AuthHandle{Handle: g.IDevIDHandle, Name: rp.Name, Auth: tpm2.PasswordAuth(nil)},
		SignHandle:     tpm2.AuthHandle{Handle: ak.Handle, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: nonce},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
	}).Execute(tp)
	if err != nil {
		return nil, fmt.Errorf("TPM2_Certify of the IDevID: %w", err)
	}
	return &tpm.EvidenceIDevID{Public: tpm2.Marshal(rp.OutPublic), Certificate: g.IDevIDCertificate,
		Certify: tpm.EvidenceQuote{Attest: c.CertifyInfo.Bytes(), Signature: tpm2.Marshal(c.Signature)}}, nil
}

func readLog(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	return b, nil
}

// quoteConsistent quotes sel and reads the PCR values, retaking both
// when the values read do not hash to the quote's pcrDigest (a PCR was
// extended in between).
func quoteConsistent(ctx context.Context, tp transport.TPM, ak tpm2.NamedHandle, nonce []byte, sel tpm2.TPMLPCRSelection) (tpm.EvidenceQuote, tpm.PCRs, error) {
	var lastErr error
	for range maxQuoteAttempts {
		if err := ctx.Err(); err != nil {
			return tpm.EvidenceQuote{}, nil, err
		}
		q, err := (tpm2.Quote{
			SignHandle:     tpm2.AuthHandle{Handle: ak.Handle, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
			QualifyingData: tpm2.TPM2BData{Buffer: nonce},
			InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
			PCRSelect:      sel,
		}).Execute(tp)
		if err != nil {
			return tpm.EvidenceQuote{}, nil, fmt.Errorf("TPM2_Quote: %w", err)
		}
		values, err := readPCRs(tp, sel)
		if err != nil {
			return tpm.EvidenceQuote{}, nil, err
		}
		eq := tpm.EvidenceQuote{Attest: q.Quoted.Bytes(), Signature: tpm2.Marshal(q.Signature)}
		pq, err := tpm.ParseAttest(eq.Attest)
		if err != nil {
			return tpm.EvidenceQuote{}, nil, fmt.Errorf("TPM2_Quote output: %w", err)
		}
		if pq.Sig, err = tpm.ParseSignature(eq.Signature); err != nil {
			return tpm.EvidenceQuote{}, nil, fmt.Errorf("TPM2_Quote signature: %w", err)
		}
		pq.PCRs = values
		if _, lastErr = tpm.CheckPCRDigest(pq); lastErr == nil {
			return eq, values, nil
		}
	}
	return tpm.EvidenceQuote{}, nil, fmt.Errorf("PCRs kept changing across %d quotes: %w", maxQuoteAttempts, lastErr)
}

// readPCRs reads the selected PCRs one at a time (TPM2_PCR_Read answers
// at most 8 per call, and which ones is the TPM's choice).
func readPCRs(tp transport.TPM, sel tpm2.TPMLPCRSelection) (tpm.PCRs, error) {
	out := tpm.PCRs{}
	for _, s := range sel.PCRSelections {
		out[s.Hash] = map[int][]byte{}
		for _, i := range tpm.Selected(s) {
			one := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: s.Hash, PCRSelect: tpm2.PCClientCompatible.PCRs(uint(i))}}}
			pr, err := (tpm2.PCRRead{PCRSelectionIn: one}).Execute(tp)
			if err != nil {
				return nil, fmt.Errorf("TPM2_PCR_Read %d: %w", i, err)
			}
			if len(pr.PCRValues.Digests) != 1 {
				return nil, fmt.Errorf("TPM2_PCR_Read %d: %d values (is the bank allocated?)", i, len(pr.PCRValues.Digests))
			}
			out[s.Hash][i] = pr.PCRValues.Digests[0].Buffer
		}
	}
	return out, nil
}

// EK returns the EK at its persistent handle, first creating it from the
// TCG default template and persisting it (owner authorization, empty
// password) when the handle is empty. A handle that holds something other
// than a restricted decryption key is an error, never overwritten.
func (g TPMGather) EK(ctx context.Context, tp transport.TPM) (*tpm2.ReadPublicResponse, error) {
	h, _ := g.handles()
	return persisted(ctx, tp, h, "EK", g.ekTemplate(), func(b []byte) error {
		_, err := tpm.ParseEK(b)
		return err
	})
}

// AK returns the AK at its persistent handle, first creating it (a
// primary in the endorsement hierarchy from AKTemplate) and persisting it
// when the handle is empty. A handle that holds a key unfit for
// credential activation (tpm.CheckActivationAK) is an error.
func (g TPMGather) AK(ctx context.Context, tp transport.TPM) (*tpm2.ReadPublicResponse, error) {
	_, h := g.handles()
	return persisted(ctx, tp, h, "AK", AKTemplate, func(b []byte) error {
		ak, err := tpm.ParseAKPublic(b)
		if err == nil {
			err = tpm.CheckActivationAK(ak)
		}
		return err
	})
}

func persisted(ctx context.Context, tp transport.TPM, h tpm2.TPMHandle, what string, template tpm2.TPMTPublic, check func([]byte) error) (*tpm2.ReadPublicResponse, error) {
	rp, err := (tpm2.ReadPublic{ObjectHandle: h}).Execute(tp)
	if err == nil {
		if err := check(tpm2.Marshal(rp.OutPublic)); err != nil {
			return nil, fmt.Errorf("the key at %s handle %#08x is not one: %w", what, uint32(h), err)
		}
		return rp, nil
	}
	if !errors.Is(err, tpm2.TPMRCHandle) {
		return nil, fmt.Errorf("TPM2_ReadPublic %s %#08x: %w", what, uint32(h), err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cp, err := (tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHEndorsement, InPublic: tpm2.New2B(template)}).Execute(tp)
	if err != nil {
		return nil, fmt.Errorf("create the %s: %w", what, err)
	}
	_, err = (tpm2.EvictControl{
		Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		ObjectHandle:     &tpm2.NamedHandle{Handle: cp.ObjectHandle, Name: cp.Name},
		PersistentHandle: h,
	}).Execute(tp)
	if _, ferr := (tpm2.FlushContext{FlushHandle: cp.ObjectHandle}).Execute(tp); ferr != nil && err == nil {
		err = fmt.Errorf("flush: %w", ferr)
	}
	if err != nil {
		return nil, fmt.Errorf("persist the %s at %#08x: %w", what, uint32(h), err)
	}
	rp, err = (tpm2.ReadPublic{ObjectHandle: h}).Execute(tp)
	if err != nil {
		return nil, fmt.Errorf("TPM2_ReadPublic %s %#08x: %w", what, uint32(h), err)
	}
	return rp, nil
}

// nvChunk is what one TPM2_NV_Read asks for: the PC Client Platform TPM
// Profile requires MAX_NV_BUFFER_SIZE of at least 512.
const nvChunk = 512

// ReadEKCertificate reads the EK certificate at an NV index; nil, nil when
// the index is not defined. Trailing padding after the DER certificate
// (some TPMs zero-fill the index) is cut.
func ReadEKCertificate(tp transport.TPM, idx tpm2.TPMHandle) ([]byte, error) {
	rp, err := (tpm2.NVReadPublic{NVIndex: idx}).Execute(tp)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("TPM2_NV_ReadPublic %#08x: %w", uint32(idx), err)
	}
	pub, err := rp.NVPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("NV %#08x public: %w", uint32(idx), err)
	}
	nv := tpm2.NamedHandle{Handle: idx, Name: rp.NVName}
	auth := tpm2.AuthHandle{Handle: idx, Name: rp.NVName, Auth: tpm2.PasswordAuth(nil)}
	if !pub.Attributes.AuthRead && pub.Attributes.OwnerRead {
		auth = tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}
	}
	var out []byte
	for off := 0; off < int(pub.DataSize); off += nvChunk {
		n := min(nvChunk, int(pub.DataSize)-off)
		r, err := (tpm2.NVRead{AuthHandle: auth, NVIndex: nv, Size: uint16(n), Offset: uint16(off)}).Execute(tp)
		if err != nil {
			return nil, fmt.Errorf("TPM2_NV_Read %#08x at %d: %w", uint32(idx), off, err)
		}
		out = append(out, r.Data.Buffer...)
	}
	s := cryptobyte.String(out)
	var der cryptobyte.String
	if !s.ReadASN1Element(&der, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("NV %#08x: %d bytes that do not start with a DER certificate", uint32(idx), len(out))
	}
	return []byte(der), nil
}

// ActivateCredential answers a credential challenge (tpm2_makecredential's
// file format, as assay tpm challenge writes it) with the persisted EK and
// AK: TPM2_ActivateCredential (TPM 2.0 Part 3, section 12.5), the EK
// authorized by a policy session satisfying the low-range templates' EK
// policy, PolicySecret(TPM_RH_ENDORSEMENT) (TCG EK Credential Profile
// 2.x, section 2.1.5.1), in the EK's nameAlg. The high-range templates'
// policy (PolicyOR of that and an NV-authorized branch) is not satisfied
// by this session: such EKs are not activated here. It returns the
// recovered secret.
func (g TPMGather) ActivateCredential(ctx context.Context, tp transport.TPM, credFile []byte) ([]byte, error) {
	blob, enc, err := tpm.ParseCredentialFile(credFile)
	if err != nil {
		return nil, err
	}
	ekH, akH := g.handles()
	ek, err := (tpm2.ReadPublic{ObjectHandle: ekH}).Execute(tp)
	if err != nil {
		return nil, fmt.Errorf("TPM2_ReadPublic EK %#08x (run assay attest tpm first): %w", uint32(ekH), err)
	}
	ak, err := (tpm2.ReadPublic{ObjectHandle: akH}).Execute(tp)
	if err != nil {
		return nil, fmt.Errorf("TPM2_ReadPublic AK %#08x (run assay attest tpm first): %w", uint32(akH), err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ekPub, err := ek.OutPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("EK public: %w", err)
	}
	// The policy session's hash is the EK's nameAlg, as its authPolicy's.
	rsp, err := (tpm2.ActivateCredential{
		ActivateHandle: tpm2.AuthHandle{Handle: akH, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
		KeyHandle: tpm2.AuthHandle{Handle: ekH, Name: ek.Name, Auth: tpm2.Policy(ekPub.NameAlg, 16, func(tp transport.TPM, h tpm2.TPMISHPolicy, nonceTPM tpm2.TPM2BNonce) error {
			_, err := (tpm2.PolicySecret{AuthHandle: tpm2.TPMRHEndorsement, PolicySession: h, NonceTPM: nonceTPM}).Execute(tp)
			return err
		})},
		CredentialBlob: tpm2.TPM2BIDObject{Buffer: blob},
		Secret:         tpm2.TPM2BEncryptedSecret{Buffer: enc},
	}).Execute(tp)
	if err != nil {
		return nil, fmt.Errorf("TPM2_ActivateCredential: %w (was the challenge made for this TPM's EK and AK?)", err)
	}
	return rsp.CertInfo.Buffer, nil
}
