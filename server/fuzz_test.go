package server_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/policy"
	"github.com/assay-dev/assay/server"
)

// FuzzRequestBodies sends arbitrary bodies to every route that parses one
// before authentication: the answer must be a 4xx naming the problem (or
// success), never a panic or a 5xx.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"version":"0.4.0","tee":"snp","extra-params":{}}`,
		`{"version":"0.4.0","tee":"tdx","extra-params":{"supported-hash-algorithms":["sha512"]}}`,
		`{"version":"0.4.0","tee":"snp","extra-params":""}`,
		`{"runtime-data":{"nonce":"x","tee-pubkey":{"kty":"EC","crv":"P-256","alg":"ECDH-ES+A256KW","x":"","y":""}},"tee-evidence":{"primary_evidence":{},"additional_evidence":""}}`,
		`{"session_id":"00","evidence":[{"name":"a","data":"AAAA"}]}`,
		`{"tee":"snp","hash":"sha256"}`,
		`[]`, `null`, `{"version":1}`, "",
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, testutil.SQLiteStore(f))
	h := e.handler
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/kbs/v0/auth", "/kbs/v0/attest", "/v1/challenge", "/v1/attest"} {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			req.AddCookie(&http.Cookie{Name: "kbs-session-id", Value: "0123456789abcdef0123456789abcdef"})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("POST %s %q: %d %s", path, body, rec.Code, rec.Body.String())
			}
		}
	})
}

// FuzzRefValueRecord: a reference value record sent to PUT
// /v1/admin/refvalues/{id} either fails to parse with an error or parses
// to a value that writes and reads back the same.
func FuzzRefValueRecord(f *testing.F) {
	for _, s := range []string{
		`{"id":"fw","tee":"snp","claim":"measurement","value":"00","state":"staged","version":1}`,
		`{"tee":"snp","claim":"measurement","value":"ab","not_before":"2026-01-01T00:00:00Z","provenance":{"author":"a","source":"s","note":"n"}}`,
		`{"id":1}`, `[]`, `null`, `{"id":"a"},{"id":"b"}`, `{"id":"a"}]}`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rv, err := server.ParseRecordForTest(b)
		if err != nil {
			return
		}
		rec, err := server.RecordOfForTest(rv)
		if err != nil {
			t.Fatalf("%q parsed but does not write: %v", b, err)
		}
		back, err := server.ParseRecordForTest(rec)
		if err != nil || !reflect.DeepEqual(normal(back), normal(rv)) {
			t.Fatalf("%q: wrote %s, read back %+v (%v), want %+v", b, rec, back, err, rv)
		}
	})
}

// normal puts a value's times in UTC, so that equal instants compare
// equal.
func normal(rv policy.RefValue) policy.RefValue {
	rv.NotBefore, rv.NotAfter = rv.NotBefore.UTC(), rv.NotAfter.UTC()
	return rv
}
