package ccel_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/ccel"
	"github.com/assay-dev/assay/internal/testutil"
)

// corpusLog is one CC event log of the shared corpus with the RTMRs it
// must replay to, and where those values come from.
type corpusLog struct {
	entry, path string
	want        *[4][48]byte
	wantFrom    string
}

// corpusLogs lists every file of kind "ccel" in the manifest that is a
// log (the tables are checked by TestCorpusTables), with its expected
// RTMRs: expected.stated (rtmr0..rtmr2, or rtmr_replay), else the RTMRs
// of the TD quote the entry ships (expected.parsed), else the corpus
// builder's own replay (expected.replayed_by_builder, an independent
// Python implementation), else none.
func corpusLogs(t *testing.T) (dir string, logs []corpusLog) {
	t.Helper()
	m, dir := testutil.LoadManifest(t)
	for _, e := range m.Entries {
		for _, f := range e.Files {
			if f.Kind != "ccel" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, f.Path))
			if err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			if format, _ := ccel.Sniff(b); format == ccel.FormatTable {
				continue
			}
			cl := corpusLog{entry: e.ID, path: f.Path}
			stated, _ := e.Expected["stated"].(map[string]any)
			if r, ok := stated["rtmr_replay"].(map[string]any); ok {
				cl.want, cl.wantFrom = rtmrs(t, r), "stated rtmr_replay"
			} else if _, ok := stated["rtmr0"]; ok {
				cl.want, cl.wantFrom = rtmrs(t, stated), "stated"
			} else if _, ok := e.Parsed()["rtmr0"]; ok {
				cl.want, cl.wantFrom = rtmrs(t, e.Parsed()), "quote (expected.parsed)"
			} else if w := builderRTMRs(t, e.Expected["replayed_by_builder"], f.Path); w != nil {
				cl.want, cl.wantFrom = w, "replayed_by_builder"
			}
			logs = append(logs, cl)
		}
	}
	if len(logs) < 11 {
		t.Fatalf("found %d CC event logs in the manifest, want at least 11", len(logs))
	}
	return dir, logs
}

// rtmrs reads rtmr0..rtmr3 (hex) from m; an absent rtmr3 is zero.
func rtmrs(t *testing.T, m map[string]any) *[4][48]byte {
	t.Helper()
	var w [4][48]byte
	for i, k := range []string{"rtmr0", "rtmr1", "rtmr2", "rtmr3"} {
		s, ok := m[k].(string)
		if !ok {
			continue
		}
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 48 {
			t.Fatalf("%s = %q: not 48 bytes of hex", k, s)
		}
		copy(w[i][:], b)
	}
	return &w
}

// builderRTMRs reads replayed_by_builder.banks.sha384 ("1".."4" = MR
// index), either directly or keyed by file path.
func builderRTMRs(t *testing.T, v any, path string) *[4][48]byte {
	t.Helper()
	m, _ := v.(map[string]any)
	if per, ok := m[path].(map[string]any); ok {
		m = per
	}
	banks, _ := m["banks"].(map[string]any)
	sha384, ok := banks["sha384"].(map[string]any)
	if !ok {
		return nil
	}
	r := map[string]any{}
	for mr, val := range sha384 {
		switch mr {
		case "1", "2", "3", "4":
			r["rtmr"+string(rune(mr[0]-1))] = val
		}
	}
	return rtmrs(t, r)
}

func TestCorpusReplay(t *testing.T) {
	dir, logs := corpusLogs(t)
	for _, cl := range logs {
		t.Run(cl.entry+"/"+filepath.Base(cl.path), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, cl.path))
			if err != nil {
				t.Fatal(err)
			}
			if format, ok := ccel.Sniff(b); !ok || format != ccel.FormatLog {
				t.Errorf("Sniff = %q, %v; want %q", format, ok, ccel.FormatLog)
			}
			l, err := ccel.Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if l.Length+l.Padding != len(b) {
				t.Errorf("Length %d + Padding %d != %d bytes", l.Length, l.Padding, len(b))
			}
			if !l.HasBank(ccel.AlgSHA384) {
				// The Hygon CSV log: SM3 only, nothing to replay into RTMRs.
				if err := l.Compare([4][48]byte{}); !errors.Is(err, ccel.ErrUnsupported) {
					t.Errorf("Compare on a %v log = %v, want ErrUnsupported", l.Banks(), err)
				}
				return
			}
			if cl.want == nil {
				t.Fatalf("no expected RTMRs for %s", cl.path)
			}
			if err := l.Compare(*cl.want); err != nil {
				t.Errorf("Compare with %s RTMRs: %v", cl.wantFrom, err)
			}
			if got := l.Replay(); got != *cl.want {
				t.Errorf("Replay = %x, want %x (%s)", got, *cl.want, cl.wantFrom)
			}
			t.Logf("%s: replay equals the %s RTMRs", l, cl.wantFrom)
		})
	}
}

// TestCorpusMarshal: Parse(Marshal(Parse(b))) gives the same log, without
// the padding.
func TestCorpusMarshal(t *testing.T) {
	dir, logs := corpusLogs(t)
	for _, cl := range logs {
		b, err := os.ReadFile(filepath.Join(dir, cl.path))
		if err != nil {
			t.Fatal(err)
		}
		l, err := ccel.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", cl.path, err)
		}
		m := l.Marshal()
		if !bytes.Equal(m, b[:l.Length]) {
			t.Errorf("%s: Marshal differs from the first %d bytes of the input", cl.path, l.Length)
		}
	}
}

func TestCorpusTables(t *testing.T) {
	dir := testutil.CorpusDir(t)
	for _, tc := range []struct {
		path string
		want ccel.Table
	}{
		{"ccel/go-eventlog/intel-CCEL.table.bin", ccel.Table{Signature: "CCEL", Length: 56, Revision: 1, ChecksumOK: true, OEMID: "INTEL", OEMTableID: "EDK2", CCType: ccel.CCTypeTDX, LAML: 0x10000, LASA: 0x7d649000}},
		{"tdx/go-tdx-guest/gcp-cos113-ccel-acpi-table.bin", ccel.Table{Signature: "CCEL", Length: 56, Revision: 1, ChecksumOK: true, OEMID: "INTEL", OEMTableID: "EDK2", CCType: ccel.CCTypeTDX, LAML: 0x40000, LASA: 0xbedbf000}},
	} {
		b, err := os.ReadFile(filepath.Join(dir, tc.path))
		if err != nil {
			t.Fatal(err)
		}
		if format, ok := ccel.Sniff(b); !ok || format != ccel.FormatTable {
			t.Errorf("%s: Sniff = %q, %v", tc.path, format, ok)
		}
		got, err := ccel.ParseACPITable(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if got.Signature != tc.want.Signature || got.Length != tc.want.Length || got.Revision != tc.want.Revision ||
			got.ChecksumOK != tc.want.ChecksumOK || got.OEMID != tc.want.OEMID || got.OEMTableID != tc.want.OEMTableID ||
			got.CCType != tc.want.CCType || got.LAML != tc.want.LAML || got.LASA != tc.want.LASA {
			t.Errorf("%s: got %+v, want %+v", tc.path, *got, tc.want)
		}
		if _, err := ccel.Parse(b); !errors.Is(err, ccel.ErrMalformed) {
			t.Errorf("%s: Parse of a table = %v, want ErrMalformed", tc.path, err)
		}
	}
}

// trusteeEvent is one event of Trustee's expected parse
// (deps/eventlog/test_data/*_out.json).
type trusteeEvent struct {
	Index    uint32 `json:"index"`
	TypeName string `json:"type_name"`
	Event    string `json:"event"` // base64 of the event data
	Digests  []struct {
		Alg    string `json:"alg"`
		Digest string `json:"digest"`
	} `json:"digests"`
	Details struct {
		UnicodeName  string `json:"unicode_name"`
		VariableData string `json:"variable_data"`
		String       string `json:"string"`
		Data         *struct {
			Domain    string          `json:"domain"`
			Operation string          `json:"operation"`
			Content   json.RawMessage `json:"content"`
		} `json:"data"`
	} `json:"details"`
}

// TestCorpusTrustee compares the parse with Trustee's independent one
// (Rust, deps/eventlog) event by event: MR index, type, data, digests,
// variable names and AAEL fields.
func TestCorpusTrustee(t *testing.T) {
	dir := testutil.CorpusDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "ccel/trustee/*.expected.json"))
	if err != nil || len(files) < 6 {
		t.Fatalf("found %d Trustee expected files: %v", len(files), err)
	}
	for _, jf := range files {
		bin := strings.TrimSuffix(jf, ".expected.json") + ".bin"
		t.Run(filepath.Base(bin), func(t *testing.T) {
			var want struct {
				Events []trusteeEvent `json:"uefi_event_logs"`
			}
			j, err := os.ReadFile(jf)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(j, &want); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			l, err := ccel.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Events) != len(want.Events) {
				t.Fatalf("%d events, Trustee has %d", len(l.Events), len(want.Events))
			}
			claims := l.Claims()
			aael := 0
			for i, w := range want.Events {
				e, ec := l.Events[i], claims.Events[i]
				if e.MRIndex != w.Index || e.Type.String() != w.TypeName {
					t.Errorf("event #%d: MR %d %s, Trustee MR %d %s", e.Num, e.MRIndex, e.Type, w.Index, w.TypeName)
				}
				if data, _ := base64.StdEncoding.DecodeString(w.Event); !bytes.Equal(data, e.Data) {
					t.Errorf("event #%d: data differs from Trustee's", e.Num)
				}
				if len(w.Digests) != len(e.Digests) {
					t.Errorf("event #%d: %d digests, Trustee %d", e.Num, len(e.Digests), len(w.Digests))
				}
				for k, d := range w.Digests {
					if k < len(e.Digests) && hex.EncodeToString(e.Digests[k].Value) != d.Digest {
						t.Errorf("event #%d: digest %d differs", e.Num, k)
					}
				}
				if w.Details.UnicodeName != "" && w.Details.UnicodeName != "AAEL" {
					if ec.Variable == nil || ec.Variable.Name != w.Details.UnicodeName {
						t.Errorf("event #%d: variable %+v, Trustee %q", e.Num, ec.Variable, w.Details.UnicodeName)
					}
				}
				if w.Details.Data != nil {
					aael++
					a := ec.AAEL
					if a == nil || a.Domain != w.Details.Data.Domain || a.Operation != w.Details.Data.Operation || !a.DataVerified {
						t.Fatalf("event #%d: AAEL %+v, Trustee %+v", e.Num, a, w.Details.Data)
					}
					// Trustee gives content as JSON when it parses, else as
					// a JSON string.
					var s string
					if json.Unmarshal(w.Details.Data.Content, &s) == nil {
						if a.Content != s {
							t.Errorf("event #%d: AAEL content %q, Trustee %q", e.Num, a.Content, s)
						}
					} else if !jsonEqual(a.ContentJSON, w.Details.Data.Content) {
						t.Errorf("event #%d: AAEL content %s, Trustee %s", e.Num, a.ContentJSON, w.Details.Data.Content)
					}
				}
			}
			if len(claims.AAEL) != aael {
				t.Errorf("%d AAEL claims, Trustee decodes %d", len(claims.AAEL), aael)
			}
		})
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xj, _ := json.Marshal(x)
	yj, _ := json.Marshal(y)
	return bytes.Equal(xj, yj)
}
