package tpm_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/verifier/tpm"
)

// swtpmConn is a transport.TPM over swtpm's TCP server port, which speaks
// raw TPM 2.0 commands: write a command, read one response (its size is in
// the 10-byte header, TPM 2.0 Part 1, section 18.7).
type swtpmConn struct{ c net.Conn }

var _ transport.TPM = (*swtpmConn)(nil)

func (s *swtpmConn) Send(cmd []byte) ([]byte, error) {
	if err := s.c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return nil, err
	}
	if _, err := s.c.Write(cmd); err != nil {
		return nil, err
	}
	hdr := make([]byte, 10)
	if _, err := io.ReadFull(s.c, hdr); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(hdr[2:])
	if size < 10 || size > 1<<16 {
		return nil, fmt.Errorf("swtpm response size %d", size)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	if _, err := io.ReadFull(s.c, rsp[10:]); err != nil {
		return nil, err
	}
	return rsp, nil
}

// startSWTPM runs swtpm on two free consecutive ports and connects to it.
// Without swtpm the test is skipped, except under CI (CI=true), where it
// fails: .ci/run installs swtpm.
func startSWTPM(t *testing.T) transport.TPM {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("swtpm is not installed (CI=true: .ci/run installs it with apt-get)")
		}
		t.Skip("swtpm is not installed: apt-get install swtpm to run the live TPM test")
	}
	port := freePortPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "socket", "--tpm2",
		"--server", "type=tcp,port="+strconv.Itoa(port),
		"--ctrl", "type=tcp,port="+strconv.Itoa(port+1),
		"--flags", "not-need-init,startup-clear",
		"--tpmstate", "dir="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	var c net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err = net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("swtpm did not listen on %d: %v; %s", port, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() { c.Close() })
	return &swtpmConn{c: c}
}

func freePortPair(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		l.Close()
		if err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("no two consecutive free ports")
	return 0
}

// akTemplate is a restricted signing key, as an AK must be (TCG EK
// Credential Profile 2.0, section 2.1.5 AK templates).
func akTemplate(alg tpm2.TPMAlgID) tpm2.TPMTPublic {
	attrs := tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true, NoDA: true, Restricted: true, SignEncrypt: true}
	switch alg {
	case tpm2.TPMAlgECDSA:
		return tpm2.TPMTPublic{Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
				Scheme:  tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDSA, Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256})},
				CurveID: tpm2.TPMECCNistP256,
			}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
		}
	default:
		details := tpm2.NewTPMUAsymScheme(alg, &tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256})
		if alg == tpm2.TPMAlgRSAPSS {
			details = tpm2.NewTPMUAsymScheme(alg, &tpm2.TPMSSigSchemeRSAPSS{HashAlg: tpm2.TPMAlgSHA256})
		}
		return tpm2.TPMTPublic{Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
				Scheme:  tpm2.TPMTRSAScheme{Scheme: alg, Details: details},
				KeyBits: 2048,
			}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{}),
		}
	}
}

// TestSWTPM creates AKs in a live swtpm, extends PCR 7, quotes SHA-256
// PCRs 0-7 over a nonce, and verifies the quote: every check passes but
// ak.trust, which must fail (nothing vouches for a freshly made AK).
func TestSWTPM(t *testing.T) {
	tp := startSWTPM(t)
	ext := sha256.Sum256([]byte("assay swtpm test"))
	if _, err := (tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(7), Auth: tpm2.PasswordAuth(nil)},
		Digests:   tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{HashAlg: tpm2.TPMAlgSHA256, Digest: ext[:]}}},
	}).Execute(tp); err != nil {
		t.Fatalf("PCR_Extend: %v", err)
	}
	sel := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(0, 1, 2, 3, 4, 5, 6, 7)}}}
	for _, scheme := range []tpm2.TPMAlgID{tpm2.TPMAlgRSASSA, tpm2.TPMAlgRSAPSS, tpm2.TPMAlgECDSA} {
		t.Run(map[tpm2.TPMAlgID]string{tpm2.TPMAlgRSASSA: "rsassa", tpm2.TPMAlgRSAPSS: "rsapss", tpm2.TPMAlgECDSA: "ecdsa"}[scheme], func(t *testing.T) {
			cp, err := (tpm2.CreatePrimary{
				PrimaryHandle: tpm2.TPMRHEndorsement,
				InPublic:      tpm2.New2B(akTemplate(scheme)),
			}).Execute(tp)
			if err != nil {
				t.Fatalf("CreatePrimary: %v", err)
			}
			defer func() {
				if _, err := (tpm2.FlushContext{FlushHandle: cp.ObjectHandle}).Execute(tp); err != nil {
					t.Errorf("FlushContext: %v", err)
				}
			}()
			nonce := []byte("assay-nonce-0123456789")
			q, err := (tpm2.Quote{
				SignHandle:     tpm2.AuthHandle{Handle: cp.ObjectHandle, Name: cp.Name, Auth: tpm2.PasswordAuth(nil)},
				QualifyingData: tpm2.TPM2BData{Buffer: nonce},
				InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
				PCRSelect:      sel,
			}).Execute(tp)
			if err != nil {
				t.Fatalf("Quote: %v", err)
			}
			pr, err := (tpm2.PCRRead{PCRSelectionIn: sel}).Execute(tp)
			if err != nil {
				t.Fatalf("PCR_Read: %v", err)
			}
			if len(pr.PCRValues.Digests) != 8 {
				t.Fatalf("PCR_Read gave %d values", len(pr.PCRValues.Digests))
			}
			// The files tpm2_quote and tpm2_createak would write, through
			// the same path as the command line.
			pf := &tpm.PCRFile{Selection: sel.PCRSelections, Values: tpm.PCRs{tpm2.TPMAlgSHA256: {}}}
			for i, d := range pr.PCRValues.Digests {
				pf.Values[tpm2.TPMAlgSHA256][i] = d.Buffer
			}
			msg := q.Quoted.Bytes()
			b := attest.Bundle{Evidence: msg, Name: "quote.msg", Other: []attest.NamedBlob{
				{Name: "quote.sig", Data: tpm2.Marshal(q.Signature)},
				{Name: "quote.pcrs", Data: tpm.MarshalPCRFile(pf)},
				{Name: "ak.pub", Data: tpm2.Marshal(cp.OutPublic)},
			}}
			for _, o := range b.Other {
				if _, ok := tpm.SniffCollateral(o.Data); !ok {
					t.Errorf("%s not recognised", o.Name)
				}
			}
			res := (&tpm.Verifier{}).Appraise(context.Background(), b, attest.Params{Nonce: nonce})
			want := map[string]string{"parse": "pass", "ak.trust": "fail", "signature": "pass", "pcr.digest": "pass", "nonce": "pass", "eventlog.replay": "skip"}
			for _, c := range res.Checks {
				got := "pass"
				if !c.OK {
					got = "fail"
				} else if c.Skipped {
					got = "skip"
				}
				if want[c.Name] != got {
					t.Errorf("%s: %s (%s), want %s", c.Name, got, c.Detail, want[c.Name])
				}
				delete(want, c.Name)
			}
			if len(want) != 0 {
				t.Errorf("checks missing: %v", want)
			}
			cl := res.Claims.(*tpm.Claims)
			if cl.PCRs["sha256"]["7"] == "" || cl.ExtraData != fmt.Sprintf("%x", nonce) {
				t.Errorf("claims: %+v", cl)
			}

			// A flipped byte of the signed TPMS_ATTEST fails the signature.
			ev, _, err := tpm.Gather(b)
			if err != nil {
				t.Fatal(err)
			}
			flipped := append([]byte{}, msg...)
			flipped[len(flipped)-1] ^= 1 // the last byte of pcrDigest
			fq, err := tpm.ParseAttest(flipped)
			if err != nil {
				t.Fatal(err)
			}
			fq.Sig, fq.PCRs = ev.Quotes[0].Sig, ev.Quotes[0].PCRs
			ev.Quotes[0] = fq
			_, checks, err := tpm.Verify(context.Background(), ev, tpm.Options{})
			if !errors.Is(err, tpm.ErrUnvouched) {
				t.Errorf("flipped pcrDigest: %v, want ErrUnvouched first", err)
			}
			if f := failed(checks); len(f) != 2 || !strings.HasPrefix(f[1], "signature: ") {
				t.Errorf("flipped pcrDigest: failed checks %v, want ak.trust then signature", f)
			}
		})
	}
}
