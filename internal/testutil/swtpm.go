package testutil

import (
	"bytes"
	"context"
	"crypto"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/assay-dev/assay/attester"
)

// StartSWTPM runs swtpm on two free consecutive ports and connects to it;
// both end with the test. Without swtpm the test is skipped, except under
// CI (CI=true), where it fails: .ci/run installs swtpm.
func StartSWTPM(t *testing.T) transport.TPM {
	t.Helper()
	port := StartSWTPMServer(t)
	var c net.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err = net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("swtpm did not listen on %d: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() { c.Close() })
	return &attester.SWTPMConn{Conn: c}
}

// StartSWTPMServer runs swtpm for the test and returns its server port
// (the control port is the next one) once it listens, without holding a
// connection: for tpm2-tools, TPM2TOOLS_TCTI=swtpm:port=PORT. Skipped
// without swtpm, except under CI.
func StartSWTPMServer(t *testing.T) int {
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
	// Wait until both ports accept; the probes close at once, freeing
	// swtpm's single client slot.
	for _, p := range []int{port, port + 1} {
		for deadline := time.Now().Add(10 * time.Second); ; {
			c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("swtpm did not listen on %d: %v; %s", p, err, stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return port
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

// AKTemplate is a restricted signing key, as an AK must be (TCG EK
// Credential Profile 2.0, section 2.1.5 AK templates): RSASSA or RSAPSS
// with RSA 2048, or ECDSA with P-256, SHA-256.
func AKTemplate(alg tpm2.TPMAlgID) tpm2.TPMTPublic {
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

// CreatePrimary creates a primary key in the endorsement hierarchy from
// template (tpm2.RSAEKTemplate for the default EK, AKTemplate for an AK)
// and flushes it when the test ends.
func CreatePrimary(t *testing.T, tp transport.TPM, template tpm2.TPMTPublic) *tpm2.CreatePrimaryResponse {
	t.Helper()
	rsp, err := (tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHEndorsement, InPublic: tpm2.New2B(template)}).Execute(tp)
	if err != nil {
		t.Fatalf("CreatePrimary: %v", err)
	}
	t.Cleanup(func() {
		if _, err := (tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}).Execute(tp); err != nil {
			t.Errorf("FlushContext %#x: %v", rsp.ObjectHandle, err)
		}
	})
	return rsp
}

// PersistPrimary creates a primary key in the endorsement hierarchy from
// template, makes it persistent at h (TPM2_EvictControl) and flushes the
// transient copy; it returns the key's public part. The error is the
// TPM's refusal to create the key (a template it does not support);
// anything that fails after that fails the test.
func PersistPrimary(t *testing.T, tp transport.TPM, template tpm2.TPMTPublic, h tpm2.TPMHandle) (crypto.PublicKey, error) {
	t.Helper()
	cp, err := (tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHEndorsement, InPublic: tpm2.New2B(template)}).Execute(tp)
	if err != nil {
		return nil, err
	}
	if _, err := (tpm2.EvictControl{Auth: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		ObjectHandle: &tpm2.NamedHandle{Handle: cp.ObjectHandle, Name: cp.Name}, PersistentHandle: h}).Execute(tp); err != nil {
		t.Fatalf("EvictControl to %#x: %v", h, err)
	}
	if _, err := (tpm2.FlushContext{FlushHandle: cp.ObjectHandle}).Execute(tp); err != nil {
		t.Fatalf("FlushContext %#x: %v", cp.ObjectHandle, err)
	}
	pub, err := cp.OutPublic.Contents()
	if err != nil {
		t.Fatal(err)
	}
	k, err := tpm2.Pub(*pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, nil
}

// ActivateCredential is the attester's TPM2_ActivateCredential (TPM 2.0
// Part 3, section 12.5): the AK with its (empty) password for the admin
// role, the EK with a policy session satisfying the default EK policy,
// PolicySecret(TPM_RH_ENDORSEMENT) (TCG EK Credential Profile 2.x, section
// 2.1.5.1). go-tpm's policy session is flushed after the command.
func ActivateCredential(tp transport.TPM, ek, ak *tpm2.CreatePrimaryResponse, blob, encSecret []byte) ([]byte, error) {
	rsp, err := (tpm2.ActivateCredential{
		ActivateHandle: tpm2.AuthHandle{Handle: ak.ObjectHandle, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
		KeyHandle: tpm2.AuthHandle{Handle: ek.ObjectHandle, Name: ek.Name, Auth: tpm2.Policy(tpm2.TPMAlgSHA256, 16, func(tp transport.TPM, h tpm2.TPMISHPolicy, nonceTPM tpm2.TPM2BNonce) error {
			_, err := (tpm2.PolicySecret{AuthHandle: tpm2.TPMRHEndorsement, PolicySession: h, NonceTPM: nonceTPM}).Execute(tp)
			return err
		})},
		CredentialBlob: tpm2.TPM2BIDObject{Buffer: blob},
		Secret:         tpm2.TPM2BEncryptedSecret{Buffer: encSecret},
	}).Execute(tp)
	if err != nil {
		return nil, err
	}
	return rsp.CertInfo.Buffer, nil
}
