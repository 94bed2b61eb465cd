package tpm_test

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func mustPEMCert(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			t.Fatal("no PEM certificate")
		}
		if blk.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
}
