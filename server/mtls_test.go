package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/server"
	"github.com/assay-dev/assay/verifier"
)

func issue(t *testing.T, tmpl, parent *x509.Certificate, pub any, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAdminMTLS: with AdminMTLS, a client certificate from the admin CA
// authenticates admin requests and is recorded as the actor; a certificate
// from another CA gets nothing; no certificate and no token is 401.
func TestAdminMTLS(t *testing.T) {
	st := testutil.SQLiteStore(t)
	krText, _ := broker.GenerateKeyringFile()
	kr, _ := broker.ParseKeyring(krText)
	if _, err := server.BootstrapAdmin(t.Context(), st, ""); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), server.Config{Verifiers: verifier.Verifiers(verifier.Config{}), AdminMTLS: true, Secure: true}, st, kr)
	if err != nil {
		t.Fatal(err)
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "assay admin CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	ca := issue(t, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	client := func(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string) tls.Certificate {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		c := issue(t, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, parent, &k.PublicKey, parentKey)
		return tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: k}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	hs.StartTLS()
	t.Cleanup(hs.Close)

	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherTmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	other := issue(t, otherTmpl, otherTmpl, &otherKey.PublicKey, otherKey)

	put := func(certs []tls.Certificate) (int, error) {
		tr := hs.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = certs
		body, _ := json.Marshal(map[string]any{"value": base64.StdEncoding.EncodeToString([]byte("v"))})
		req, _ := http.NewRequest(http.MethodPut, hs.URL+"/v1/admin/secrets/default/key/1", bytes.NewReader(body))
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := put([]tls.Certificate{client(ca, caKey, "alice")}); err != nil || code != http.StatusOK {
		t.Fatalf("admin client certificate: %d %v", code, err)
	}
	recs, _ := st.ListAudit(t.Context(), 0, 10)
	if len(recs) == 0 || recs[len(recs)-1].Actor != "mtls:CN=alice" {
		t.Errorf("audit actor %+v, want mtls:CN=alice", recs)
	}
	if code, err := put(nil); err != nil || code != http.StatusUnauthorized {
		t.Errorf("no certificate, no token: %d %v, want 401", code, err)
	}
	// Go's client offers only certificates issued by a CA the server
	// names, so a foreign certificate is either refused at the handshake
	// or not sent at all: never an admin.
	if code, err := put([]tls.Certificate{client(other, otherKey, "mallory")}); err == nil && code != http.StatusUnauthorized {
		t.Errorf("a certificate from another CA: %d, want a failed handshake or 401", code)
	}
}
