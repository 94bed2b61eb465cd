package attester_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attester"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// fakeTSM plays the kernel's side of configfs-tsm in dir: for each report
// directory the attester makes, once inblob is written it fills outblob
// with a report signed by the fake guest over that inblob, auxblob with a
// marker, and bumps generation.
func fakeTSM(t *testing.T, dir string, g *testutil.SNPGuest) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				d := filepath.Join(dir, e.Name())
				in, err := os.ReadFile(filepath.Join(d, "inblob"))
				if err != nil || len(in) != 64 {
					continue
				}
				if _, err := os.Stat(filepath.Join(d, "outblob")); err == nil {
					continue
				}
				_ = os.WriteFile(filepath.Join(d, "auxblob"), []byte("certificate table"), 0o600)
				_ = os.WriteFile(filepath.Join(d, "outblob"), g.Report(t, in, nil), 0o600)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
}

func TestTSM(t *testing.T) {
	dir := t.TempDir()
	g := testutil.NewSNPGuest(t)
	fakeTSM(t, dir, g)
	rd := bytes.Repeat([]byte{0x5a}, 48)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	files, err := attester.TSM{Root: dir, PrivLevel: -1}.Evidence(ctx, rd)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Name != "outblob" || files[1].Name != "auxblob" {
		t.Fatalf("files %v", files)
	}
	r, err := sevsnp.Parse(files[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(rd, make([]byte, 16)...); !bytes.Equal(r.ReportData[:], want) {
		t.Errorf("REPORT_DATA %x, want the report data zero-padded", r.ReportData)
	}
	if _, err := (attester.TSM{Root: dir, PrivLevel: -1}).Evidence(ctx, make([]byte, 65)); err == nil {
		t.Error("65 bytes of report data were accepted")
	}
	if _, err := (attester.TSM{Root: filepath.Join(dir, "absent"), PrivLevel: -1}).Evidence(ctx, rd); err == nil || !strings.Contains(err.Error(), "configfs-tsm") {
		t.Errorf("missing configfs: %v", err)
	}
}

func TestCommand(t *testing.T) {
	rd := []byte{0xde, 0xad, 0xbe, 0xef}
	files, err := attester.Command{Shell: `printf %s "$ASSAY_REPORT_DATA" > "$ASSAY_OUT/hex"; printf %s "$ASSAY_REPORT_DATA_B64" > "$ASSAY_OUT/b64"`}.Evidence(t.Context(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || string(files[1].Data) != "deadbeef" || string(files[0].Data) != "3q2+7w==" {
		t.Errorf("files %+v", files)
	}
	if _, err := (attester.Command{Shell: "echo failing >&2; exit 3"}).Evidence(t.Context(), rd); err == nil || !strings.Contains(err.Error(), "failing") {
		t.Errorf("failing command: %v, want its stderr in the error", err)
	}
	if _, err := (attester.Command{Shell: "true"}).Evidence(t.Context(), rd); err == nil {
		t.Error("a command that wrote nothing was accepted")
	}
}
