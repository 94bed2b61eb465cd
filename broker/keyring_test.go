package broker_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/assay-dev/assay/broker"
)

// key returns a deterministic test key: 32 bytes of b.
func key(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func mustKeyring(t *testing.T, text string) *broker.Keyring {
	t.Helper()
	k, err := broker.ParseKeyring([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseKeyring(t *testing.T) {
	text := "# comment\n\n  kek-new " + key(2) + "  \r\n\t# old key below\nkek-old\t" + key(1) + "\n"
	k := mustKeyring(t, text)
	if k.Active() != "kek-new" {
		t.Errorf("Active() = %q, want kek-new", k.Active())
	}
	if got := strings.Join(k.IDs(), ","); got != "kek-new,kek-old" {
		t.Errorf("IDs() = %s", got)
	}
	ids := k.IDs()
	ids[0] = "changed"
	if k.Active() != "kek-new" {
		t.Error("IDs() exposes the keyring's own slice")
	}
}

func TestParseKeyringErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		lines []int // the lines the errors must name; 0 = whole file
	}{
		{"empty", "", []int{0}},
		{"comments-only", "# nothing\n\n", []int{0}},
		{"not-utf8", "k \xff\n", []int{0}},
		{"one-field", "# c\nkek-1\n", []int{2}},
		{"three-fields", "kek-1 " + key(1) + " extra\n", []int{1}},
		{"bad-id-char", "kek/1 " + key(1) + "\n", []int{1}},
		{"id-too-long", strings.Repeat("a", 65) + " " + key(1) + "\n", []int{1}},
		{"short-key", "kek-1 " + base64.StdEncoding.EncodeToString(make([]byte, 16)) + "\n", []int{1}},
		{"long-key", "kek-1 " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 33)) + "\n", []int{1}},
		{"not-base64", "kek-1 not*base64\n", []int{1}},
		{"url-base64", "kek-1 " + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)) + "\n", []int{1}},
		{"unpadded", "kek-1 " + base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)) + "\n", []int{1}},
		{"all-zero", "kek-1 " + key(0) + "\n", []int{1}},
		{"duplicate-id", "kek-1 " + key(1) + "\nkek-1 " + key(2) + "\n", []int{2}},
		{"duplicate-key", "kek-1 " + key(1) + "\nkek-2 " + key(1) + "\n", []int{2}},
		{"several", "kek-1 " + key(1) + "\nbad line here\nkek-1 " + key(3) + "\nx " + key(0) + "\n", []int{2, 3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := broker.ParseKeyring([]byte(tc.text))
			if !errors.Is(err, broker.ErrKeyring) {
				t.Fatalf("got %v, want ErrKeyring", err)
			}
			var lines []int
			for _, e := range unjoin(err) {
				var ke *broker.KeyringError
				if !errors.As(e, &ke) {
					t.Fatalf("%v is not a *KeyringError", e)
				}
				lines = append(lines, ke.Line)
			}
			if fmt.Sprint(lines) != fmt.Sprint(tc.lines) {
				t.Errorf("errors name lines %v, want %v: %v", lines, tc.lines, err)
			}
			// No message may carry key material.
			for _, b := range []byte{1, 2, 3} {
				if strings.Contains(err.Error(), key(b)) {
					t.Errorf("error quotes a key: %v", err)
				}
			}
		})
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestSealOpen(t *testing.T) {
	k := mustKeyring(t, "a "+key(1)+"\nb "+key(2)+"\n")
	aad := []byte("secret/db-password@3")
	for _, pt := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("secret"), 1000)} {
		sealed, id, err := k.Seal(pt, aad)
		if err != nil {
			t.Fatal(err)
		}
		if id != "a" {
			t.Errorf("sealed with %q, want the active key a", id)
		}
		if len(sealed) != 1+12+len(pt)+16 || sealed[0] != 1 {
			t.Errorf("sealed form: %d bytes, version %d", len(sealed), sealed[0])
		}
		got, err := k.Open(sealed, id, aad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
	s1, _, _ := k.Seal([]byte("same"), aad)
	s2, _, _ := k.Seal([]byte("same"), aad)
	if bytes.Equal(s1, s2) {
		t.Error("two seals of the same plaintext are equal: the nonce is not random")
	}
}

func TestOpenRejects(t *testing.T) {
	k := mustKeyring(t, "a "+key(1)+"\nb "+key(2)+"\n")
	aad := []byte("path@1")
	sealed, _, err := k.Seal([]byte("top secret"), aad)
	if err != nil {
		t.Fatal(err)
	}
	// Every byte matters: version, nonce, ciphertext, tag.
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, err := k.Open(bad, "a", aad); !errors.Is(err, broker.ErrSealed) {
			t.Errorf("byte %d flipped: got %v, want ErrSealed", i, err)
		}
	}
	for _, tc := range []struct {
		name   string
		sealed []byte
		kek    string
		aad    []byte
		want   error
	}{
		{"wrong-aad", sealed, "a", []byte("path@2"), broker.ErrSealed},
		{"no-aad", sealed, "a", nil, broker.ErrSealed},
		{"other-key", sealed, "b", aad, broker.ErrSealed},
		{"unknown-key", sealed, "c", aad, broker.ErrUnknownKEK},
		{"empty", nil, "a", aad, broker.ErrSealed},
		{"truncated", sealed[:28], "a", aad, broker.ErrSealed},
		{"version-only", []byte{1}, "a", aad, broker.ErrSealed},
		{"extended", append(bytes.Clone(sealed), 0), "a", aad, broker.ErrSealed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := k.Open(tc.sealed, tc.kek, tc.aad); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	var zero broker.Keyring
	if _, _, err := zero.Seal([]byte("x"), nil); !errors.Is(err, broker.ErrUnknownKEK) {
		t.Errorf("zero Keyring sealed: %v", err)
	}
}

// TestRotation: a new key goes first; secrets sealed under the old one
// still open, and Reseal moves them to the new one.
func TestRotation(t *testing.T) {
	old := mustKeyring(t, "kek-1 "+key(1)+"\n")
	aad := []byte("p@1")
	sealed, id, err := old.Seal([]byte("s3cret"), aad)
	if err != nil {
		t.Fatal(err)
	}
	rotated := mustKeyring(t, "kek-2 "+key(2)+"\nkek-1 "+key(1)+"\n")
	if got, err := rotated.Open(sealed, id, aad); err != nil || string(got) != "s3cret" {
		t.Fatalf("old secret after rotation: %q, %v", got, err)
	}
	sealed2, id2, err := rotated.Reseal(sealed, id, aad)
	if err != nil {
		t.Fatal(err)
	}
	if id2 != "kek-2" {
		t.Errorf("resealed under %q, want kek-2", id2)
	}
	retired := mustKeyring(t, "kek-2 "+key(2)+"\n")
	if got, err := retired.Open(sealed2, id2, aad); err != nil || string(got) != "s3cret" {
		t.Fatalf("resealed secret without the old key: %q, %v", got, err)
	}
	if _, err := retired.Open(sealed, id, aad); !errors.Is(err, broker.ErrUnknownKEK) {
		t.Errorf("old sealed value with the old key removed: %v", err)
	}
	if _, _, err := rotated.Reseal(sealed, id, []byte("p@2")); !errors.Is(err, broker.ErrSealed) {
		t.Errorf("Reseal with the wrong AAD: %v", err)
	}
}

func TestGenerateAndRotateKeyringFile(t *testing.T) {
	b, err := broker.GenerateKeyringFile()
	if err != nil {
		t.Fatal(err)
	}
	k := mustKeyring(t, string(b))
	if ids := k.IDs(); len(ids) != 1 || !strings.HasPrefix(ids[0], "kek-") || len(ids[0]) != len("kek-20060102150405") {
		t.Fatalf("generated IDs %v", ids)
	}
	b2, err := broker.GenerateKeyringFile()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(b, b2) {
		t.Error("two generated keyrings are equal")
	}
	rotated, err := broker.RotateKeyringFile(b)
	if err != nil {
		t.Fatal(err)
	}
	r := mustKeyring(t, string(rotated))
	ids := r.IDs()
	if len(ids) != 2 || ids[1] != k.Active() || ids[0] == k.Active() {
		t.Fatalf("rotated IDs %v (old active %s)", ids, k.Active())
	}
	if !bytes.HasPrefix(rotated, []byte("# ")) || !bytes.HasSuffix(rotated, b[bytes.LastIndex(b[:len(b)-1], []byte("\n"))+1:]) {
		t.Errorf("rotation did not keep the header and the old key line:\n%s", rotated)
	}
	// The same second twice: the ID gets a suffix instead of colliding.
	twice, err := broker.RotateKeyringFile(rotated)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(mustKeyring(t, string(twice)).IDs()); n != 3 {
		t.Errorf("second rotation: %d keys", n)
	}
	if _, err := broker.RotateKeyringFile([]byte("bad")); !errors.Is(err, broker.ErrKeyring) {
		t.Errorf("rotating a malformed file: %v", err)
	}
}

// TestKeyringRedacts: no fmt verb and no slog handler shows key bytes.
func TestKeyringRedacts(t *testing.T) {
	raw := bytes.Repeat([]byte{0xab}, 32)
	k := mustKeyring(t, "kek-1 "+base64.StdEncoding.EncodeToString(raw)+"\n")
	forbidden := []string{
		base64.StdEncoding.EncodeToString(raw), hex.EncodeToString(raw), strings.ToUpper(hex.EncodeToString(raw)),
		"171 171 171", "[171", "0xab", "abab",
	}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		outs = append(outs, fmt.Sprintf(verb, k), fmt.Sprintf(verb, *k))
	}
	outs = append(outs, fmt.Sprint(k), fmt.Sprintln(*k), k.String(), k.GoString())
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("keyring", "k", k, "v", *k)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("keyring", "k", k)
	outs = append(outs, logs.String())
	for _, out := range outs {
		for _, f := range forbidden {
			if strings.Contains(out, f) {
				t.Errorf("output shows key material (%s): %s", f, out)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(k), "kek-1") || !strings.Contains(logs.String(), "kek-1") {
		t.Errorf("redacted forms should still name the keys: %s / %s", fmt.Sprint(k), logs.String())
	}
}

func ExampleKeyring_Seal() {
	k, err := broker.ParseKeyring([]byte("# active key first\nkek-2 " + key(2) + "\nkek-1 " + key(1) + "\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	aad := []byte("default/db/password@1") // bind the path and version
	sealed, kekID, err := k.Seal([]byte("hunter2"), aad)
	if err != nil {
		fmt.Println(err)
		return
	}
	pt, err := k.Open(sealed, kekID, aad)
	fmt.Println(kekID, string(pt), err)
	fmt.Println(k)
	// Output:
	// kek-2 hunter2 <nil>
	// Keyring{active: "kek-2", ids: ["kek-2" "kek-1"]}
}
