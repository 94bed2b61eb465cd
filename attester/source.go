package attester

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// TSM gathers SEV-SNP or TDX evidence through the kernel's configfs-tsm
// report interface (Linux 6.7+, Documentation/ABI/testing/configfs-tsm-report):
// make a report directory, write the 64-byte report data to inblob, read
// outblob (the SNP report or the TD quote) and auxblob (the SNP certificate
// table, when the host supplies one), and check that generation did not
// move while reading — another writer would have changed the report.
type TSM struct {
	// Root is the report directory; empty is /sys/kernel/config/tsm/report.
	Root string
	// PrivLevel, when not negative, is written to privlevel (the SNP VMPL).
	PrivLevel int
}

// DefaultTSMRoot is where configfs-tsm reports live.
const DefaultTSMRoot = "/sys/kernel/config/tsm/report"

// Evidence implements Source.
func (t TSM) Evidence(ctx context.Context, reportData []byte) ([]File, error) {
	if len(reportData) > 64 {
		return nil, fmt.Errorf("report data is %d bytes; configfs-tsm takes at most 64", len(reportData))
	}
	root := t.Root
	if root == "" {
		root = DefaultTSMRoot
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	dir := filepath.Join(root, "assay-"+hex.EncodeToString(rnd[:]))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("configfs-tsm: %w (is this a confidential VM with configfs mounted?)", err)
	}
	defer os.Remove(dir)
	if t.PrivLevel >= 0 {
		if err := os.WriteFile(filepath.Join(dir, "privlevel"), fmt.Appendf(nil, "%d", t.PrivLevel), 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("configfs-tsm privlevel: %w", err)
		}
	}
	in := make([]byte, 64)
	copy(in, reportData)
	if err := os.WriteFile(filepath.Join(dir, "inblob"), in, 0o600); err != nil {
		return nil, fmt.Errorf("configfs-tsm inblob: %w", err)
	}
	gen0, _ := os.ReadFile(filepath.Join(dir, "generation"))
	out, err := readWait(ctx, filepath.Join(dir, "outblob"))
	if err != nil {
		return nil, fmt.Errorf("configfs-tsm outblob: %w", err)
	}
	files := []File{{Name: "outblob", Data: out}}
	if aux, err := os.ReadFile(filepath.Join(dir, "auxblob")); err == nil && len(aux) > 0 {
		files = append(files, File{Name: "auxblob", Data: aux})
	}
	if gen1, _ := os.ReadFile(filepath.Join(dir, "generation")); string(gen0) != string(gen1) {
		return nil, errors.New("configfs-tsm: generation changed while reading the report; another writer raced, retry")
	}
	return files, nil
}

// readWait reads a file that the provider fills on first read; an empty
// read is retried until ctx ends (a fake provider in tests fills it
// asynchronously; the kernel fills it synchronously).
func readWait(ctx context.Context, path string) ([]byte, error) {
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return b, nil
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("empty")
			}
			return nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
		case <-tick():
		}
	}
}

// Command gathers evidence by running a program: it gets the report data
// in ASSAY_REPORT_DATA (hex) and ASSAY_REPORT_DATA_B64, and an empty
// directory in ASSAY_OUT; every file it writes there is evidence or
// collateral. This covers tools Assay does not drive itself, such as
// tpm2_quote or a cloud vendor's attestation agent.
type Command struct {
	// Shell is the command line, run with sh -c.
	Shell string
}

// Evidence implements Source.
func (c Command) Evidence(ctx context.Context, reportData []byte) ([]File, error) {
	dir, err := os.MkdirTemp("", "assay-evidence-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, "sh", "-c", c.Shell)
	cmd.Env = append(os.Environ(),
		"ASSAY_REPORT_DATA="+hex.EncodeToString(reportData),
		"ASSAY_REPORT_DATA_B64="+base64.StdEncoding.EncodeToString(reportData),
		"ASSAY_OUT="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("evidence command: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []File
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		files = append(files, File{Name: e.Name(), Data: b})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	if len(files) == 0 {
		return nil, errors.New("evidence command wrote no files to $ASSAY_OUT")
	}
	return files, nil
}
