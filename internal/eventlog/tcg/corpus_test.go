package tcg_test

import (
	"bufio"
	"bytes"
	"crypto"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/ccel"
	"github.com/assay-dev/assay/internal/eventlog/tcg"
	"github.com/assay-dev/assay/internal/testutil"
)

// bankValues is a set of expected PCR values: bank -> PCR -> value.
type bankValues map[crypto.Hash]map[int][]byte

// corpusLog is one TPM event log of the shared corpus with the PCR values
// it must replay to, from each source that states some.
type corpusLog struct {
	entry, path string
	// want maps a source ("stated", "replayed_by_builder",
	// "tpm2_eventlog") to its values.
	want map[string]bankValues
	// events is the builder's event count (the Spec ID event counted)
	// over the first parsed bytes of the file.
	events, parsed int
}

var bankNames = map[string]crypto.Hash{"sha1": crypto.SHA1, "sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512}

// corpusLogs lists every file of kind "tpm-eventlog" in the manifest with
// its expected values: expected.stated (pcrs_sha1, pcr_sha256), the
// corpus builder's replay (expected.replayed_by_builder, an independent
// Python implementation) and, for the galmasi logs, the PCRs that
// tpm2_eventlog (tpm2-tools 5.5) computed, from the YAML beside them.
func corpusLogs(t *testing.T) (dir string, logs []corpusLog) {
	t.Helper()
	m, dir := testutil.LoadManifest(t)
	for _, e := range m.Entries {
		for _, f := range e.Files {
			if f.Kind != "tpm-eventlog" {
				continue
			}
			cl := corpusLog{entry: e.ID, path: f.Path, want: map[string]bankValues{}}
			stated, _ := e.Expected["stated"].(map[string]any)
			for key, h := range map[string]crypto.Hash{"pcrs_sha1": crypto.SHA1, "pcr_sha256": crypto.SHA256} {
				if v, ok := stated[key].(map[string]any); ok {
					if cl.want["stated"] == nil {
						cl.want["stated"] = bankValues{}
					}
					cl.want["stated"][h] = hexPCRs(t, v)
				}
			}
			if rb, ok := e.Expected["replayed_by_builder"].(map[string]any); ok {
				banks, _ := rb["banks"].(map[string]any)
				bv := bankValues{}
				for name, v := range banks {
					bv[bankNames[name]] = hexPCRs(t, v.(map[string]any))
				}
				cl.want["replayed_by_builder"] = bv
				if n, ok := rb["events"].(float64); ok {
					cl.events = int(n)
				}
				if n, ok := rb["parsed_bytes"].(float64); ok {
					cl.parsed = int(n)
				}
			}
			yml := strings.TrimSuffix(f.Path, ".bin") + ".tpm2-tools-5.5.yml"
			if y, err := os.ReadFile(filepath.Join(dir, yml)); err == nil {
				if bv := yamlPCRs(t, y); len(bv) > 0 {
					cl.want["tpm2_eventlog"] = bv
				}
			}
			logs = append(logs, cl)
		}
	}
	if len(logs) < 35 {
		t.Fatalf("found %d TPM event logs in the manifest, want at least 35", len(logs))
	}
	return dir, logs
}

func hexPCRs(t *testing.T, m map[string]any) map[int][]byte {
	t.Helper()
	out := map[int][]byte{}
	for k, v := range m {
		n, err := strconv.Atoi(k)
		if err != nil {
			t.Fatalf("PCR %q: %v", k, err)
		}
		b, err := hex.DecodeString(v.(string))
		if err != nil {
			t.Fatalf("PCR %s = %q: %v", k, v, err)
		}
		out[n] = b
	}
	return out
}

// yamlPCRs reads the "pcrs:" section that ends tpm2_eventlog's output:
//
//	pcrs:
//	  sha1:
//	    0  : 0x4b87...
func yamlPCRs(t *testing.T, y []byte) bankValues {
	t.Helper()
	bv := bankValues{}
	in, bank := false, crypto.Hash(0)
	sc := bufio.NewScanner(bytes.NewReader(y))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "pcrs:":
			in = true
		case !in:
		case strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "    "):
			bank = bankNames[strings.TrimSuffix(strings.TrimSpace(line), ":")]
			if bank == 0 {
				t.Fatalf("tpm2_eventlog bank %q", line)
			}
			bv[bank] = map[int][]byte{}
		case strings.HasPrefix(line, "    "):
			k, v, ok := strings.Cut(line, ":")
			n, err := strconv.Atoi(strings.TrimSpace(k))
			b, err2 := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(v), "0x"))
			if !ok || err != nil || err2 != nil || bank == 0 {
				t.Fatalf("tpm2_eventlog PCR line %q", line)
			}
			bv[bank][n] = b
		default:
			in = false
		}
	}
	return bv
}

func TestCorpusReplay(t *testing.T) {
	dir, logs := corpusLogs(t)
	for _, cl := range logs {
		t.Run(cl.entry+"/"+filepath.Base(cl.path), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, cl.path))
			if err != nil {
				t.Fatal(err)
			}
			l, err := tcg.Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if l.Length+l.Padding != len(b) {
				t.Errorf("Length %d + Padding %d != %d bytes", l.Length, l.Padding, len(b))
			}
			if format, ok := tcg.Sniff(b); !ok || format != l.Format {
				t.Errorf("Sniff = %q, %v; Parse read %q", format, ok, l.Format)
			}
			if len(cl.want) == 0 {
				t.Fatal("no expected values")
			}
			var summary []string
			for _, src := range slices.Sorted(maps.Keys(cl.want)) {
				for bank, want := range cl.want[src] {
					if err := l.Compare(bank, want); err != nil {
						t.Errorf("Compare with the %s %s values: %v", src, tcg.HashName(bank), err)
					}
					got := l.Replay(bank)
					for p, w := range want {
						if g, ok := got[p]; ok && !bytes.Equal(g, w) {
							t.Errorf("Replay(%s)[%d] = %x, %s says %x", tcg.HashName(bank), p, g, src, w)
						}
					}
					summary = append(summary, fmt.Sprintf("%s %s PCR0=%.12x PCR7=%.12x (%d PCRs)", src, tcg.HashName(bank), want[0], want[7], len(want)))
				}
			}
			t.Logf("%s; %s", l, strings.Join(summary, "; "))
		})
	}
}

// yamlEvent is one event of tpm2_eventlog's output.
type yamlEvent struct {
	num, pcr int
	typ      string
	digests  map[string]string
}

// yamlEvents reads the events of tpm2_eventlog's output: EventNum,
// PCRIndex, EventType and the digests (AlgorithmId and Digest pairs).
func yamlEvents(t *testing.T, y []byte) []yamlEvent {
	t.Helper()
	var out []yamlEvent
	var alg string
	sc := bufio.NewScanner(bytes.NewReader(y))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		v = strings.Trim(strings.TrimSpace(v), `"`)
		switch k {
		case "- EventNum":
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("EventNum %q", v)
			}
			out = append(out, yamlEvent{num: n, digests: map[string]string{}})
		case "PCRIndex":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				t.Fatalf("PCRIndex %q", v)
			}
			out[len(out)-1].pcr = int(n)
		case "EventType":
			out[len(out)-1].typ = v
		case "- AlgorithmId":
			alg = v
		case "Digest":
			if strings.HasPrefix(line, "    Digest") && alg != "" {
				out[len(out)-1].digests[alg] = v
				alg = ""
			}
		}
		if line == "pcrs:" {
			break
		}
	}
	return out
}

// TestCorpusTPM2Tools compares the parse with tpm2_eventlog's (tpm2-tools
// 5.5, C) event by event: number, PCR, type name and every digest.
func TestCorpusTPM2Tools(t *testing.T) {
	dir := testutil.CorpusDir(t)
	ymls, err := filepath.Glob(filepath.Join(dir, "tpm/eventlogs/galmasi/*.tpm2-tools-5.5.yml"))
	if err != nil || len(ymls) < 11 {
		t.Fatalf("found %d tpm2_eventlog outputs: %v", len(ymls), err)
	}
	for _, yf := range ymls {
		bin := strings.TrimSuffix(yf, ".tpm2-tools-5.5.yml") + ".bin"
		t.Run(filepath.Base(bin), func(t *testing.T) {
			y, err := os.ReadFile(yf)
			if err != nil {
				t.Fatal(err)
			}
			want := yamlEvents(t, y)
			b, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			l, err := tcg.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			// tpm2_eventlog stops at the Windows events with PCR index
			// 0xFFFFFFFF that end two of the logs; they are never
			// replayed.
			if len(l.Events) < len(want) {
				t.Fatalf("%d events, tpm2_eventlog has %d", len(l.Events), len(want))
			}
			for _, e := range l.Events[len(want):] {
				if e.Extends() {
					t.Errorf("event #%d (%s, PCR %d) beyond tpm2_eventlog's last is replayed", e.Num, e.TypeName(), e.PCR)
				}
			}
			for i, w := range want {
				e := l.Events[i]
				typ := e.TypeName()
				if w.typ == "EV_UNKNOWN" && strings.HasPrefix(typ, "0x") {
					typ = w.typ
				}
				if e.Num != w.num || e.PCR != w.pcr || typ != w.typ {
					t.Errorf("event #%d: PCR %d %s; tpm2_eventlog #%d PCR %d %s", e.Num, e.PCR, e.TypeName(), w.num, w.pcr, w.typ)
				}
				if i == 0 {
					continue
				}
				if len(w.digests) != len(e.DigestValues) {
					t.Errorf("event #%d: %d digests, tpm2_eventlog %d", e.Num, len(e.DigestValues), len(w.digests))
				}
				for _, d := range e.DigestValues {
					if got := hex.EncodeToString(d.Value); w.digests[d.Alg.String()] != got {
						t.Errorf("event #%d: %s digest %s, tpm2_eventlog %s", e.Num, d.Alg, got, w.digests[d.Alg.String()])
					}
				}
			}
		})
	}
}

// TestCorpusEvents checks the event count against the corpus builder's
// and that Parse(Marshal(Parse(b))) gives back the input's bytes.
func TestCorpusEvents(t *testing.T) {
	dir, logs := corpusLogs(t)
	for _, cl := range logs {
		b, err := os.ReadFile(filepath.Join(dir, cl.path))
		if err != nil {
			t.Fatal(err)
		}
		l, err := tcg.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", cl.path, err)
		}
		// The builder stops before the Windows PCR -1 event that ends
		// ideapad and thinkpad (see TestCorpusTPM2Tools).
		n := 0
		for _, e := range l.Events {
			if e.Offset < cl.parsed {
				n++
			} else if e.Extends() {
				t.Errorf("%s: event #%d after the builder's %d bytes is replayed", cl.path, e.Num, cl.parsed)
			}
		}
		if cl.events != 0 && n != cl.events {
			t.Errorf("%s: %d events, the builder counts %d", cl.path, n, cl.events)
		}
		if !bytes.Equal(l.Marshal(), b[:l.Length]) {
			t.Errorf("%s: Marshal differs from the first %d bytes of the input", cl.path, l.Length)
		}
	}
}

// TestCorpusSniffDisjoint: tcg.Sniff claims no CC event log of the
// corpus and ccel.Sniff no TPM event log, so the two never compete for
// an input.
func TestCorpusSniffDisjoint(t *testing.T) {
	m, dir := testutil.LoadManifest(t)
	var ccelLogs, tpmLogs int
	for _, e := range m.Entries {
		for _, f := range e.Files {
			if f.Kind != "ccel" && f.Kind != "tpm-eventlog" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, f.Path))
			if err != nil {
				t.Fatal(err)
			}
			tf, tok := tcg.Sniff(b)
			cf, cok := ccel.Sniff(b)
			switch f.Kind {
			case "ccel":
				ccelLogs++
				if tok {
					t.Errorf("%s: tcg.Sniff claims a CC event log (%q; ccel.Sniff %q)", f.Path, tf, cf)
				}
			case "tpm-eventlog":
				tpmLogs++
				if cok || !tok {
					t.Errorf("%s: tcg.Sniff %q, %v; ccel.Sniff %q, %v", f.Path, tf, tok, cf, cok)
				}
			}
		}
	}
	if ccelLogs < 10 || tpmLogs < 35 {
		t.Errorf("%d CC and %d TPM logs in the manifest", ccelLogs, tpmLogs)
	}
}
