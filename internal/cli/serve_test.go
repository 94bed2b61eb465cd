package cli_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/server"
	"github.com/assay-dev/assay/store"
)

// buildAssay builds the binary once per test binary run.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func assayBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "assay-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "assay")
		cmd := exec.Command("go", "build", "-o", buildOnce.path, "./cmd/assay")
		cmd.Dir = testutil.RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type proc struct {
	cmd *exec.Cmd
	log *bytes.Buffer
	url string
}

func startServe(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(assayBinary(t), append([]string{"serve", "--listen", addr}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: &log, url: "http://" + addr}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("assay serve did not become ready:\n%s", log.String())
	return nil
}

// TestServeKill9 kills the server with SIGKILL in the middle of a burst of
// secret writes and checks that every write it acknowledged is there after
// a restart, with its value intact. It runs on SQLite and, when a test
// PostgreSQL server is configured, on PostgreSQL.
func TestServeKill9(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		data := t.TempDir()
		kill9(t, []string{"ASSAY_ADMIN_TOKEN=assay-admin-kill9-test-token"}, []string{"--data", data, "--offline"},
			func() (store.Store, *broker.Keyring) {
				st, err := store.Open(context.Background(), filepath.Join(data, "assay.db"))
				if err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(filepath.Join(data, "kek"))
				if err != nil {
					t.Fatal(err)
				}
				kr, err := broker.ParseKeyring(b)
				if err != nil {
					t.Fatal(err)
				}
				return st, kr
			})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := testutil.PostgresDSN(t)
		schemaDSN := testutil.PostgresSchema(t, dsn)
		krText, err := broker.GenerateKeyringFile()
		if err != nil {
			t.Fatal(err)
		}
		env := []string{"ASSAY_ADMIN_TOKEN=assay-admin-kill9-test-token", "ASSAY_KEK=" + string(krText)}
		kill9(t, env, []string{"--data", t.TempDir(), "--database", schemaDSN, "--offline"},
			func() (store.Store, *broker.Keyring) {
				st, err := store.Open(context.Background(), schemaDSN)
				if err != nil {
					t.Fatal(err)
				}
				kr, err := broker.ParseKeyring(krText)
				if err != nil {
					t.Fatal(err)
				}
				return st, kr
			})
	})
}

func kill9(t *testing.T, env, args []string, open func() (store.Store, *broker.Keyring)) {
	p := startServe(t, env, args...)
	const admin = "assay-admin-kill9-test-token"
	type ack struct {
		path    string
		version int64
		value   []byte
	}
	var mu sync.Mutex
	var acks []ack
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			hc := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := fmt.Sprintf("burst/w%d/s%d", w, i%10)
				value := fmt.Appendf(nil, "value of %s written at %d", path, i)
				body, _ := json.Marshal(map[string]any{"value": base64.StdEncoding.EncodeToString(value)})
				req, _ := http.NewRequest(http.MethodPut, p.url+"/v1/admin/secrets/"+path, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+admin)
				resp, err := hc.Do(req)
				if err != nil {
					return // the server is gone
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					continue
				}
				var info struct {
					Version int64 `json:"version"`
				}
				if json.Unmarshal(b, &info) != nil {
					continue
				}
				mu.Lock()
				acks = append(acks, ack{path, info.Version, value})
				mu.Unlock()
			}
		})
	}
	// Let the burst run, then kill -9 while writes are in flight.
	for {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		if n >= 200 {
			break
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	close(stop)
	wg.Wait()
	if len(acks) == 0 {
		t.Fatalf("no write was acknowledged:\n%s", p.log.String())
	}
	// Every acknowledged write is there: the newest version of each path
	// is at least the newest acknowledged one, and every acknowledged
	// version opens to the value that was sent.
	st, kr := open()
	defer st.Close()
	newest := map[string]ack{}
	for _, a := range acks {
		if a.version > newest[a.path].version {
			newest[a.path] = a
		}
	}
	for path, a := range newest {
		sec, err := st.GetSecret(context.Background(), path)
		if err != nil {
			t.Errorf("%s: acknowledged version %d lost: %v", path, a.version, err)
			continue
		}
		if sec.Version < a.version {
			t.Errorf("%s: newest version %d, but version %d was acknowledged", path, sec.Version, a.version)
			continue
		}
		if sec.Version == a.version {
			plain, err := kr.Open(sec.Sealed, sec.KEKID, server.SecretAAD(path, sec.Policy))
			if err != nil || !bytes.Equal(plain, a.value) {
				t.Errorf("%s version %d: value %q (%v), want %q", path, a.version, plain, err, a.value)
			}
		}
	}
	t.Logf("%d acknowledged writes over %d paths survived kill -9", len(acks), len(newest))
	// And the service starts again on the same state.
	startServe(t, env, args...)
}

func waitReady(t *testing.T, url string, cmd *exec.Cmd, log *bytes.Buffer) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("not ready at %s:\n%s", url, log.String())
}

// TestServeConfigLayers: a --config file, then ASSAY_* variables, then
// flags, each overriding the one before.
func TestServeConfigLayers(t *testing.T) {
	dir := t.TempDir()
	fileAddr, envAddr := freeAddr(t), freeAddr(t)
	cfg := filepath.Join(dir, "assay.json")
	b, _ := json.Marshal(map[string]any{"listen": fileAddr, "data": filepath.Join(dir, "data"), "log_level": "debug"})
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"file", nil, fileAddr},
		{"env-over-file", []string{"ASSAY_LISTEN=" + envAddr}, envAddr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(assayBinary(t), "serve", "--config", cfg)
			cmd.Env = append(os.Environ(), tc.env...)
			var log bytes.Buffer
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitReady(t, "http://"+tc.want, cmd, &log)
			// Graceful shutdown: SIGTERM ends the process with status 0
			// after in-flight requests finish.
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, log.String())
			}
			if !bytes.Contains(log.Bytes(), []byte("stopped")) {
				t.Errorf("no clean stop in the log:\n%s", log.String())
			}
		})
	}
	// An unknown setting in the file is refused with its name.
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"listn": "127.0.0.1:1"}`), 0o600)
	out, err := exec.Command(assayBinary(t), "serve", "--config", bad).CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte(`unknown setting "listn"`)) {
		t.Errorf("bad config: %v %s", err, out)
	}
}
