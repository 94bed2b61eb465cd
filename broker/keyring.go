package broker

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// KeySize is the size of a key-encryption key: AES-256.
const KeySize = 32

// sealVersion is the first byte of every sealed secret; it is also bound
// into the GCM associated data, so a future format cannot be confused with
// this one.
const sealVersion byte = 1

// sealOverhead: version byte, 96-bit nonce, 128-bit tag.
const sealOverhead = 1 + 12 + 16

// maxKeyIDLen bounds key IDs; they are stored next to every sealed secret.
const maxKeyIDLen = 64

// Keyring holds the key-encryption keys (KEKs) that seal secrets at rest,
// by ID, and names the active one, with which new secrets are sealed. It
// is read from a keyring file (ParseKeyring; the format is documented
// there and in docs/key-broker.md).
//
// A Keyring never prints its keys: String, GoString, Format and LogValue
// show the IDs only. It is immutable once parsed and safe for concurrent
// use.
type Keyring struct {
	ids  []string // file order; ids[0] is active
	keys map[string]*[KeySize]byte
}

// ParseKeyring reads a keyring file:
//
//	# Assay key-encryption keys. The first key is the active one.
//	kek-20250301120000 <base64 of 32 random bytes: 44 characters>
//	kek-20240301120000 <base64 of 32 random bytes: 44 characters>
//
// One key per line: an ID ([A-Za-z0-9._-], 1 to 64 characters), blanks,
// and the 32-byte key in standard padded base64 (RFC 4648 section 4).
// Blank lines and lines starting with '#' are ignored. The FIRST key is
// active; the others can still open what they sealed. Duplicate IDs, a
// key repeated under two IDs, wrong lengths and all-zero keys are errors;
// every problem is reported, each as a *KeyringError naming its line and
// never the key.
func ParseKeyring(b []byte) (*Keyring, error) {
	if !utf8.Valid(b) {
		return nil, &KeyringError{Reason: "file is not UTF-8 text"}
	}
	k := &Keyring{keys: map[string]*[KeySize]byte{}}
	var errs []error
	idLine := map[string]int{}
	digestLine := map[[sha256.Size]byte]string{}
	for i, line := range strings.Split(string(b), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			errs = append(errs, &KeyringError{Line: n, Reason: fmt.Sprintf("want \"ID base64-key\", found %d fields", len(fields))})
			continue
		}
		id, enc := fields[0], fields[1]
		if err := checkKeyID(id); err != nil {
			errs = append(errs, &KeyringError{Line: n, Reason: err.Error()})
			continue
		}
		if prev, dup := idLine[id]; dup {
			errs = append(errs, &KeyringError{Line: n, Reason: fmt.Sprintf("key ID %q is already defined on line %d", id, prev)})
			continue
		}
		idLine[id] = n
		raw, err := base64.StdEncoding.Strict().DecodeString(enc)
		if err != nil {
			// The decoder's message quotes offsets, not content; still, say
			// nothing about the text itself.
			errs = append(errs, &KeyringError{Line: n, Reason: fmt.Sprintf("key %q is not standard padded base64", id)})
			continue
		}
		if len(raw) != KeySize {
			errs = append(errs, &KeyringError{Line: n, Reason: fmt.Sprintf("key %q is %d bytes, want %d (AES-256)", id, len(raw), KeySize)})
			continue
		}
		if subtle.ConstantTimeCompare(raw, make([]byte, KeySize)) == 1 {
			errs = append(errs, &KeyringError{Line: n, Reason: fmt.Sprintf("key %q is all zeros", id)})
			continue
		}
		d := sha256.Sum256(raw)
		if other, dup := digestLine[d]; dup {
			errs = append(errs, &KeyringError{Line: n, Reason: fmt.Sprintf("key %q repeats the key of %q", id, other)})
			continue
		}
		digestLine[d] = id
		key := new([KeySize]byte)
		copy(key[:], raw)
		clear(raw)
		k.ids = append(k.ids, id)
		k.keys[id] = key
	}
	if len(errs) == 0 && len(k.ids) == 0 {
		errs = append(errs, &KeyringError{Reason: "no keys (want one \"ID base64-key\" line per key, the active key first)"})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return k, nil
}

func checkKeyID(id string) error {
	if len(id) == 0 || len(id) > maxKeyIDLen {
		return fmt.Errorf("key ID is %d characters, want 1 to %d", len(id), maxKeyIDLen)
	}
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("key ID %q has %q, want only A-Z a-z 0-9 . _ -", id, r)
		}
	}
	return nil
}

const keyringHeader = `# Assay key-encryption keys (docs/key-broker.md, "Secrets at rest").
# One key per line: ID, blanks, 32 random bytes in base64. The FIRST key is
# active and seals new secrets; keys after it only open what they sealed.
# Rotate by adding a new key at the top; remove an old key only once no
# sealed secret names it. Whoever reads this file reads every secret.
`

// GenerateKeyringFile returns a new keyring file holding one fresh random
// key, with an ID of the form "kek-<UTC yyyymmddhhmmss>".
func GenerateKeyringFile() ([]byte, error) {
	line := newKeyLine(time.Now(), func(string) bool { return false })
	return append([]byte(keyringHeader), line...), nil
}

// RotateKeyringFile returns the keyring file b with a fresh random key
// inserted before its first key, so that the new key becomes active and
// every existing key stays available to open what it sealed. Comments and
// blank lines are kept. b must parse.
func RotateKeyringFile(b []byte) ([]byte, error) {
	k, err := ParseKeyring(b)
	if err != nil {
		return nil, err
	}
	line := newKeyLine(time.Now(), func(id string) bool { _, ok := k.keys[id]; return ok })
	lines := bytes.SplitAfter(b, []byte("\n"))
	var out []byte
	inserted := false
	for _, l := range lines {
		t := bytes.TrimSpace(l)
		if !inserted && len(t) > 0 && t[0] != '#' {
			out = append(out, line...)
			inserted = true
		}
		out = append(out, l...)
	}
	return out, nil
}

// newKeyLine draws a key and formats its keyring line. The ID is
// kek-<UTC time>, with a -2, -3 ... suffix when taken (two rotations in
// the same second).
func newKeyLine(now time.Time, taken func(string) bool) []byte {
	base := "kek-" + now.UTC().Format("20060102150405")
	id := base
	for i := 2; taken(id); i++ {
		id = fmt.Sprintf("%s-%d", base, i)
	}
	key := make([]byte, KeySize)
	rand.Read(key) // never fails (crypto/rand, Go 1.24)
	line := []byte(id + " " + base64.StdEncoding.EncodeToString(key) + "\n")
	clear(key)
	return line
}

// Active returns the ID of the key new secrets are sealed with.
func (k *Keyring) Active() string {
	if k == nil || len(k.ids) == 0 {
		return ""
	}
	return k.ids[0]
}

// IDs returns the key IDs in file order, the active one first.
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.ids...)
}

func (k *Keyring) aead(id string) (cipher.AEAD, error) {
	if k == nil || len(k.ids) == 0 {
		return nil, fmt.Errorf("%w: %q (the keyring is empty)", ErrUnknownKEK, id)
	}
	key, ok := k.keys[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q (the keyring holds %s)", ErrUnknownKEK, id, strings.Join(k.ids, ", "))
	}
	// A fresh AEAD per call: cheap next to the storage round trip, and it
	// needs no argument about whether cipher.AEAD values may be shared.
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("%w: key %q: %v", ErrUnknownKEK, id, err) // not reachable: the size is fixed
	}
	// NIST SP 800-38D section 8.2.2: random 96-bit nonces; a key must not
	// seal more than 2^32 messages (section 8.3). Rotate long before.
	return cipher.NewGCMWithRandomNonce(block)
}

// additionalData binds the format version to the caller's AAD.
func additionalData(aad []byte) []byte {
	return append([]byte{sealVersion}, aad...)
}

// Seal encrypts plaintext under the active key with AES-256-GCM and a
// random 96-bit nonce. aad is authenticated but not stored: the caller
// passes the same bytes to Open, naming what the value is (a secret's
// path, and its version to catch rollback). The result is version (1
// byte, 0x01) ‖ nonce (12) ‖ ciphertext ‖ tag (16); kekID is the ID of
// the key used, to be stored beside it.
func (k *Keyring) Seal(plaintext, aad []byte) (sealed []byte, kekID string, err error) {
	id := k.Active()
	a, err := k.aead(id)
	if err != nil {
		return nil, "", err
	}
	out := make([]byte, 1, 1+len(plaintext)+a.Overhead())
	out[0] = sealVersion
	return a.Seal(out, nil, plaintext, additionalData(aad)), id, nil
}

// Open decrypts a value sealed by Seal under key kekID with the same aad.
// It returns ErrUnknownKEK if the keyring lacks the key and ErrSealed if
// the value is malformed or fails authentication.
func (k *Keyring) Open(sealed []byte, kekID string, aad []byte) ([]byte, error) {
	a, err := k.aead(kekID)
	if err != nil {
		return nil, err
	}
	if len(sealed) < sealOverhead {
		return nil, fmt.Errorf("%w: %d bytes, want at least %d", ErrSealed, len(sealed), sealOverhead)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: format version %d, want %d", ErrSealed, sealed[0], sealVersion)
	}
	pt, err := a.Open(nil, nil, sealed[1:], additionalData(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed under key %q (wrong key, wrong associated data, or altered)", ErrSealed, kekID)
	}
	return pt, nil
}

// Reseal opens sealed with key fromKEK and seals the plaintext again under
// the active key, with the same aad: the step that moves stored secrets
// to a new key after rotation. It reseals even when fromKEK is already
// active (a fresh nonce, harmless); callers that want to skip such
// secrets compare fromKEK with Active first.
func (k *Keyring) Reseal(sealed []byte, fromKEK string, aad []byte) (sealed2 []byte, toKEK string, err error) {
	pt, err := k.Open(sealed, fromKEK, aad)
	if err != nil {
		return nil, "", err
	}
	defer clear(pt)
	return k.Seal(pt, aad)
}

// String describes the keyring without its keys.
func (k Keyring) String() string {
	return fmt.Sprintf("Keyring{active: %q, ids: %q}", k.Active(), k.ids)
}

// GoString is String for %#v: the keys stay out of it too.
func (k Keyring) GoString() string { return "broker." + k.String() }

// Format keeps every fmt verb (%x, %d, %+v included) on the redacted form;
// without it, verbs other than %v and %s would print the fields.
func (k Keyring) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, k.GoString())
		return
	}
	fmt.Fprint(f, k.String())
}

// LogValue makes log/slog record the IDs only.
func (k Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("active", k.Active()), slog.Any("ids", k.IDs()))
}
