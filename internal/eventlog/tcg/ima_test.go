package tcg_test

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// imaEntry is one entry for imaList: the fields of the template, in
// order; digest nil means "compute the template hash".
type imaEntry struct {
	pcr      uint32
	template string
	fields   [][]byte
	digest   []byte
}

// imaList encodes entries in the kernel's binary format
// (security/integrity/ima/ima_fs.c, ima_measurements_show), with
// template digests in hash h (SHA-1 for binary_runtime_measurements),
// computed as ima_calc_field_array_hash_tfm does.
func imaList(t testing.TB, order binary.AppendByteOrder, h crypto.Hash, entries ...imaEntry) []byte {
	t.Helper()
	var out []byte
	for _, e := range entries {
		var data, hashed []byte
		if e.template == "ima" {
			// d without length, n with it; hashed as d || name padded
			// to IMA_EVENT_NAME_LEN_MAX+1 bytes.
			data = append(append(bytes.Clone(e.fields[0]), order.AppendUint32(nil, uint32(len(e.fields[1])))...), e.fields[1]...)
			hashed = append(bytes.Clone(e.fields[0]), e.fields[1]...)
			hashed = append(hashed, make([]byte, 20+256-len(hashed))...)
		} else {
			for _, f := range e.fields {
				data = order.AppendUint32(data, uint32(len(f)))
				data = append(data, f...)
			}
			hashed = data
		}
		d := e.digest
		if d == nil {
			x := h.New()
			x.Write(hashed)
			d = x.Sum(nil)
		}
		out = order.AppendUint32(out, e.pcr)
		out = append(out, d...)
		out = order.AppendUint32(out, uint32(len(e.template)))
		out = append(out, e.template...)
		if e.template != "ima" {
			out = order.AppendUint32(out, uint32(len(data)))
		}
		out = append(out, data...)
	}
	return out
}

// dng is a d-ng field: "alg:\0" and the digest.
func dng(alg string, digest []byte) []byte {
	return append([]byte(alg+":\x00"), digest...)
}

// nng is an n-ng field: the name with its NUL.
func nng(name string) []byte { return append([]byte(name), 0) }

// keylimeIMA reads testdata/keylime-ima.ascii (ima-sig and ima-buf
// entries in the kernel's ASCII format, from keylime's tests; see
// testdata/README.md) and returns the entries with their recorded
// template digests.
func keylimeIMA(t testing.TB) []imaEntry {
	t.Helper()
	f, err := os.ReadFile("testdata/keylime-ima.ascii")
	if err != nil {
		t.Fatal(err)
	}
	var out []imaEntry
	sc := bufio.NewScanner(bytes.NewReader(f))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		p := strings.Fields(sc.Text())
		if len(p) < 5 || p[0] != "10" {
			t.Fatalf("line %q", sc.Text())
		}
		digest, err := hex.DecodeString(p[1])
		if err != nil {
			t.Fatal(err)
		}
		alg, fd, _ := strings.Cut(p[3], ":")
		fileDigest, err := hex.DecodeString(fd)
		if err != nil {
			t.Fatal(err)
		}
		var third []byte
		if len(p) > 5 {
			if third, err = hex.DecodeString(p[5]); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, imaEntry{pcr: 10, template: p[2], digest: digest, fields: [][]byte{dng(alg, fileDigest), nng(p[4]), third}})
	}
	return out
}

// TestIMAKeylime re-encodes keylime's entries in the binary format: every
// recorded template digest must be the hash ParseIMA's check computes
// (an independent answer: the kernel computed them), and the SHA-1
// replay must be the running hash keylime's test_iterative_attestation
// computes.
func TestIMAKeylime(t *testing.T) {
	entries := keylimeIMA(t)
	b := imaList(t, binary.LittleEndian, crypto.SHA1, entries...)
	if seed, err := os.ReadFile("testdata/keylime-ima.bin"); err != nil || !bytes.Equal(seed, b) {
		t.Errorf("testdata/keylime-ima.bin differs from the encoding of testdata/keylime-ima.ascii (%v)", err)
	}
	if f, ok := tcg.SniffIMA(b); !ok || f != tcg.FormatIMA {
		t.Errorf("SniffIMA = %q, %v", f, ok)
	}
	l, err := tcg.ParseIMA(b)
	if err != nil {
		t.Fatal(err)
	}
	if l.TemplateHash != crypto.SHA1 || l.BigEndian || len(l.Entries) != len(entries) {
		t.Fatalf("template hash %v, big endian %v, %d entries", l.TemplateHash, l.BigEndian, len(l.Entries))
	}
	if err := l.CheckTemplates(); err != nil {
		t.Errorf("CheckTemplates: %v", err)
	}
	pcr := make([]byte, 20)
	for _, e := range entries {
		s := sha1.Sum(append(pcr, e.digest...))
		pcr = s[:]
	}
	if got := l.Replay(crypto.SHA1); !bytes.Equal(got, pcr) {
		t.Errorf("Replay(SHA-1) = %x, want %x", got, pcr)
	}
	if n, ok := l.MatchPrefix(crypto.SHA1, 10, pcr); !ok || n != len(entries) {
		t.Errorf("MatchPrefix = %d, %v", n, ok)
	}
	// SHA-256 bank: each entry extends SHA-256 of its template data.
	pcr256 := make([]byte, 32)
	for _, e := range l.Entries {
		d := sha256.Sum256(e.Data)
		s := sha256.Sum256(append(pcr256, d[:]...))
		pcr256 = s[:]
	}
	if got := l.Replay(crypto.SHA256); !bytes.Equal(got, pcr256) {
		t.Errorf("Replay(SHA-256) = %x, want %x", got, pcr256)
	}
	if !bytes.Equal(l.Marshal(), b) {
		t.Error("Marshal differs from the input")
	}

	c := l.Claims()
	if c.TemplateHash != "sha1" || len(c.Entries) != 6 || len(c.TemplateHashMismatches) != 0 || len(c.Violations) != 0 {
		t.Fatalf("claims %+v", c)
	}
	for i, want := range []struct{ path, digest string }{
		{"boot_aggregate", "e4cb9f5709c88376b5fc3743cd88e76b9aae8f3d992d845678de5215edb31216"},
		{"/lib/modules/5.4.48-openpower1/kernel/drivers/usb/common/usb-common.ko", "f1125b940480d20ad841d26d5ea253edc0704b5ec1548c891edf212cb1a9365e"},
		{"/lib/modules/5.4.48-openpower1/kernel/drivers/gpu/drm/drm_panel_orientation_quirks.ko", "cd026b58efdf66658685430ff526490d54a430a3f0066a35ac26a8acab66c55d"},
		{"/usr/bin/dd", "d33d5d13792292e202dbf69a6f1b07bc8a02f01424db8489ba7bb7d43c0290ef"},
		{"/usr/bin/zmore", "b8ae0b8dd04a5935cd8165aa2260cd11b658bd71629bdb52256a675a1f73907b"},
		{".ima", "a7d52aaa18c23d2d9bb2abb4308c0eeee67387a42259f4a6b1a42257065f3d5a"},
	} {
		ec := c.Entries[i]
		if ec.Path != want.path || ec.FileDigest != want.digest || ec.FileDigestAlg != "sha256" || !ec.TemplateHashOK || ec.PCR != 10 {
			t.Errorf("entry #%d: %+v, want %s %s", i, ec, want.path, want.digest)
		}
	}
	if c.Entries[0].Signature != "" || !strings.HasPrefix(c.Entries[3].Signature, "030204f3452d23") || !strings.HasPrefix(c.Entries[4].Signature, "030204531f4025") {
		t.Errorf("signatures %q %q %q", c.Entries[0].Signature, c.Entries[3].Signature, c.Entries[4].Signature)
	}
	if c.Entries[5].Template != "ima-buf" || !strings.HasPrefix(c.Entries[5].Buffer, "308201d1") {
		t.Errorf("ima-buf entry %+v", c.Entries[5])
	}
}

// TestIMATemplateHashMismatch changes an entry's data (path, file digest)
// without its template digest: the replay still gives the same PCR (it
// extends the recorded digest), and CheckTemplates and the claims name
// exactly that entry.
func TestIMATemplateHashMismatch(t *testing.T) {
	entries := keylimeIMA(t)
	good, err := tcg.ParseIMA(imaList(t, binary.LittleEndian, crypto.SHA1, entries...))
	if err != nil {
		t.Fatal(err)
	}
	entries[2].fields[1] = nng("/lib/modules/evil.ko")
	entries[4].fields[0][len(entries[4].fields[0])-1] ^= 1
	l, err := tcg.ParseIMA(imaList(t, binary.LittleEndian, crypto.SHA1, entries...))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(l.Replay(crypto.SHA1), good.Replay(crypto.SHA1)) {
		t.Error("the SHA-1 replay changed, but it extends the recorded template digests")
	}
	err = l.CheckTemplates()
	var te *tcg.TemplateHashError
	if !errors.Is(err, tcg.ErrMismatch) || !errors.As(err, &te) || len(te.Entries) != 2 || te.Entries[0] != 2 || te.Entries[1] != 4 {
		t.Fatalf("CheckTemplates = %v, want entries #2 and #4", err)
	}
	c := l.Claims()
	if len(c.TemplateHashMismatches) != 2 || c.Entries[2].TemplateHashOK || c.Entries[2].Path != "/lib/modules/evil.ko" || !c.Entries[3].TemplateHashOK {
		t.Errorf("claims: mismatches %v, entry 2 %+v", c.TemplateHashMismatches, c.Entries[2])
	}
	// In another bank the replay hashes the data, so it changes.
	if bytes.Equal(l.Replay(crypto.SHA256), good.Replay(crypto.SHA256)) {
		t.Error("the SHA-256 replay did not change with the data")
	}
	t.Log(err)
}

// TestIMATemplates covers what the keylime sample lacks: the legacy
// "ima" template, ima-ng with SHA-1, ima-ngv2, a violation, a second PCR,
// a SHA-256 template-hash list (binary_runtime_measurements_sha256) and
// a big-endian list.
func TestIMATemplates(t *testing.T) {
	fileA := bytes.Repeat([]byte{0xa1}, 20)
	fileB := bytes.Repeat([]byte{0xb2}, 32)
	entries := []imaEntry{
		{pcr: 10, template: "ima", fields: [][]byte{fileA, []byte("boot_aggregate")}},
		{pcr: 10, template: "ima-ng", fields: [][]byte{dng("sha1", fileA), nng("/usr/bin/true")}},
		{pcr: 10, template: "ima-ngv2", fields: [][]byte{append([]byte("verity:sha256:\x00"), fileB...), nng("/usr/lib/app")}},
		// A violation: zero template digest, zero file digest.
		{pcr: 10, template: "ima-ng", fields: [][]byte{dng("sha256", make([]byte, 32)), nng("/var/log/open-for-write")}, digest: make([]byte, 20)},
		{pcr: 11, template: "ima-buf", fields: [][]byte{dng("sha256", fileB), nng("kexec-cmdline"), []byte("root=/dev/sda1 ro")}},
	}
	for _, tc := range []struct {
		name  string
		order binary.AppendByteOrder
		hash  crypto.Hash
	}{
		{"le-sha1", binary.LittleEndian, crypto.SHA1},
		{"be-sha1", binary.BigEndian, crypto.SHA1},
		{"le-sha256", binary.LittleEndian, crypto.SHA256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := entries
			if tc.hash != crypto.SHA1 {
				in = append([]imaEntry(nil), entries...)
				in[3].digest = make([]byte, tc.hash.Size())
			}
			b := imaList(t, tc.order, tc.hash, in...)
			l, err := tcg.ParseIMA(b)
			if err != nil {
				t.Fatal(err)
			}
			if l.TemplateHash != tc.hash || l.BigEndian != (tc.order == binary.BigEndian) {
				t.Fatalf("template hash %v, big endian %v", l.TemplateHash, l.BigEndian)
			}
			if err := l.CheckTemplates(); err != nil {
				t.Errorf("CheckTemplates: %v", err)
			}
			if !bytes.Equal(l.Marshal(), b) {
				t.Error("Marshal differs from the input")
			}
			// PCR 10 replay in the list's bank: recorded digests, all ones
			// for the violation.
			want := make([]byte, tc.hash.Size())
			for _, e := range l.Entries {
				if e.PCR != 10 {
					continue
				}
				d := e.Digest
				if e.Violation() {
					d = bytes.Repeat([]byte{0xff}, tc.hash.Size())
				}
				x := tc.hash.New()
				x.Write(want)
				x.Write(d)
				want = x.Sum(nil)
			}
			if got := l.Replay(tc.hash); !bytes.Equal(got, want) {
				t.Errorf("Replay = %x, want %x", got, want)
			}
			if pcrs := l.ReplayPCRs(tc.hash); len(pcrs) != 2 || pcrs[11] == nil {
				t.Errorf("ReplayPCRs has PCRs %v", pcrs)
			}
			c := l.Claims()
			if len(c.Violations) != 1 || c.Violations[0] != 3 || len(c.TemplateHashMismatches) != 0 {
				t.Errorf("violations %v, mismatches %v", c.Violations, c.TemplateHashMismatches)
			}
			e0, e1, e2, e4 := c.Entries[0], c.Entries[1], c.Entries[2], c.Entries[4]
			if e0.Template != "ima" || e0.Path != "boot_aggregate" || e0.FileDigestAlg != "sha1" || e0.FileDigest != hex.EncodeToString(fileA) || !e0.TemplateHashOK {
				t.Errorf("ima entry %+v", e0)
			}
			if e1.Path != "/usr/bin/true" || e1.FileDigestAlg != "sha1" || !e1.TemplateHashOK {
				t.Errorf("ima-ng entry %+v", e1)
			}
			if e2.DigestType != "verity" || e2.FileDigestAlg != "sha256" || e2.FileDigest != hex.EncodeToString(fileB) || e2.Path != "/usr/lib/app" {
				t.Errorf("ima-ngv2 entry %+v", e2)
			}
			if e4.PCR != 11 || e4.Path != "kexec-cmdline" || e4.BufferText != "root=/dev/sda1 ro" {
				t.Errorf("ima-buf entry %+v", e4)
			}
		})
	}
}

// TestIMAReplayPadded: kernels before 5.8 extended the SHA-256 bank with
// the SHA-1 template digest zero-padded.
func TestIMAReplayPadded(t *testing.T) {
	b, err := os.ReadFile("testdata/keylime-ima.bin")
	if err != nil {
		t.Fatal(err)
	}
	l, err := tcg.ParseIMA(b)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 32)
	for _, e := range l.Entries {
		d := append(bytes.Clone(e.Digest), make([]byte, 12)...)
		s := sha256.Sum256(append(want, d...))
		want = s[:]
	}
	if got := l.ReplayPadded(crypto.SHA256); !bytes.Equal(got, want) {
		t.Errorf("ReplayPadded = %x, want %x", got, want)
	}
	if got := l.ReplayPadded(crypto.SHA1); !bytes.Equal(got, l.Replay(crypto.SHA1)) {
		t.Errorf("ReplayPadded(SHA-1) = %x, Replay %x", got, l.Replay(crypto.SHA1))
	}
	// A prefix: the quote saw the first three entries.
	three, err := tcg.ParseIMA(b[:l.Entries[3].Offset])
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := l.MatchPrefix(crypto.SHA256, 10, three.Replay(crypto.SHA256)); !ok || n != 3 {
		t.Errorf("MatchPrefix of the first three entries = %d, %v", n, ok)
	}
	if _, ok := l.MatchPrefix(crypto.SHA256, 10, bytes.Repeat([]byte{1}, 32)); ok {
		t.Error("MatchPrefix matched an unrelated value")
	}
}

func TestIMAMalformed(t *testing.T) {
	b, err := os.ReadFile("testdata/keylime-ima.bin")
	if err != nil {
		t.Fatal(err)
	}
	setU32 := func(off int, v uint32) []byte {
		c := bytes.Clone(b)
		binary.LittleEndian.PutUint32(c[off:], v)
		return c
	}
	// Entry 0: PCR(4) digest(20) name length(4) "ima-sig"(7) data length(4).
	for name, in := range map[string][]byte{
		"empty":             nil,
		"short":             b[:20],
		"truncated":         b[:len(b)-1],
		"pcr-out-of-range":  setU32(0, 24),
		"name-too-long":     setU32(24, 16),
		"data-length-huge":  setU32(35, 0x7fffffff),
		"field-length-huge": setU32(39, 0x7fffffff),
		"garbage-after":     append(bytes.Clone(b), 0xff, 0xff, 0xff),
		"tcg-log":           newLog(sha256Bank...).bytes(),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := tcg.ParseIMA(in); !errors.Is(err, tcg.ErrMalformed) {
				t.Errorf("ParseIMA = %v, want ErrMalformed", err)
			}
		})
	}
	// A template with the wrong number of fields.
	e := keylimeIMA(t)[:1]
	e[0].fields = e[0].fields[:2]
	if _, err := tcg.ParseIMA(imaList(t, binary.LittleEndian, crypto.SHA1, e...)); !errors.Is(err, tcg.ErrMalformed) {
		t.Errorf("ima-sig with two fields: %v, want ErrMalformed", err)
	}
	if _, ok := tcg.SniffIMA(newLog(sha256Bank...).bytes()); ok {
		t.Error("SniffIMA took a TCG event log for an IMA list")
	}
}
