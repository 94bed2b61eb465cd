package cli

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-sev-guest/abi"
	pb "github.com/google/go-sev-guest/proto/sevsnp"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// TestEvidenceFormats: the same real Milan report, packaged the ways
// people have it, verifies through the CLI with the same verdict.
func TestEvidenceFormats(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(corpus, rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	report := read("snp/trustee/milan-vcek-report.bin")
	vcek := read("snp/trustee/milan-vcek.der")
	chain := read("roots/amd/milan_vcek_ask_ark.pem")
	var ask, ark []byte
	{
		rest := chain
		for _, dst := range []*[]byte{&ask, &ark} {
			it, err := sevsnpPEM(rest)
			if err != nil {
				t.Fatal(err)
			}
			*dst, rest = it.der, it.rest
		}
	}
	at := "2023-06-01T00:00:00Z"
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	table := sevsnp.MarshalCertTable([]sevsnp.CertTableEntry{
		{GUID: guid(t, "63da758d-e664-4564-adc5-f4b93be8accd"), Data: vcek},
		{GUID: guid(t, "4ab7b379-bbac-4fe4-a02f-05aef327c782"), Data: ask},
		{GUID: guid(t, "c0b406a4-a803-4952-9743-3fb6014cd0ae"), Data: ark},
	})
	// configfs-tsm: /sys/kernel/config/tsm/report/$name
	tsm := filepath.Join(dir, "tsm", "report0")
	write("tsm/report0/outblob", report)
	write("tsm/report0/auxblob", table)
	write("tsm/report0/inblob", report[0x50:0x90])
	write("tsm/report0/provider", []byte("sev_guest\n"))
	write("tsm/report0/generation", []byte("1\n"))
	write("tsm/report0/privlevel", []byte("0\n"))
	// /dev/sev-guest MSG_REPORT_RSP
	rsp := make([]byte, 0x20+len(report))
	binary.LittleEndian.PutUint32(rsp[4:], uint32(len(report)))
	copy(rsp[0x20:], report)
	// go-sev-guest Attestation protobuf, binary and text
	rp, err := abi.ReportToProto(report)
	if err != nil {
		t.Fatal(err)
	}
	att := &pb.Attestation{Report: rp, CertificateChain: &pb.CertificateChain{VcekCert: vcek, AskCert: ask, ArkCert: ark}}
	bin, err := proto.Marshal(att)
	if err != nil {
		t.Fatal(err)
	}
	txt, err := prototext.Marshal(att)
	if err != nil {
		t.Fatal(err)
	}
	nonce := hex.EncodeToString(report[0x50:0x70])
	tests := []struct {
		name   string
		args   []string
		format string
	}{
		{"configfs-tsm-directory", []string{tsm}, "snp-report"},
		{"extended-report-files", []string{filepath.Join(tsm, "outblob"), filepath.Join(tsm, "auxblob")}, "snp-report"},
		{"msg-report-rsp", []string{write("rsp.bin", rsp), write("vcek.der", vcek)}, "snp-report-response"},
		{"go-sev-guest-binary", []string{write("attestation.bin", bin)}, "go-sev-guest-attestation"},
		{"go-sev-guest-text", []string{write("attestation.textproto", txt)}, "go-sev-guest-attestation"},
		{"forced-format", []string{"--format", "snp-report", filepath.Join(tsm, "outblob"), write("vcek2.der", vcek)}, "snp-report"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"verify", "-o", "json", "--offline", "--at", at, "--nonce", nonce}, tc.args...)
			code, out, errs := run(t, args...)
			if code != ExitAffirming {
				t.Fatalf("exit %d\n%s\n%s", code, out, errs)
			}
			res := decodeOnlineResult(t, out)
			if res.Status != "affirming" {
				t.Errorf("status %q", res.Status)
			}
			if got := jsonField(t, out, "evidence", "format"); got != tc.format {
				t.Errorf("format %q, want %q", got, tc.format)
			}
		})
	}
}

type pemItem struct{ der, rest []byte }

func sevsnpPEM(b []byte) (pemItem, error) {
	blk, rest := pem.Decode(b)
	if blk == nil {
		return pemItem{}, errors.New("no PEM block")
	}
	return pemItem{blk.Bytes, rest}, nil
}

func guid(t *testing.T, s string) [16]byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		t.Fatalf("bad GUID %s", s)
	}
	var g [16]byte
	copy(g[:], b)
	return g
}

func jsonField(t *testing.T, doc string, path ...string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	s, _ := v.(string)
	return s
}
