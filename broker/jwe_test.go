package broker_test

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/internal/jcs"
)

var b64 = base64.RawURLEncoding

var rsa2048 = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func rsaJWK(pub *rsa.PublicKey, alg string) []byte {
	m := map[string]string{"kty": "RSA", "n": b64.EncodeToString(pub.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
	if alg != "" {
		m["alg"] = alg
	}
	b, _ := json.Marshal(m)
	return b
}

func ecJWK(pub *ecdsa.PublicKey, crv, alg string) []byte {
	pt, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	size := (len(pt) - 1) / 2
	m := map[string]string{"kty": "EC", "crv": crv, "x": b64.EncodeToString(pt[1 : 1+size]), "y": b64.EncodeToString(pt[1+size:])}
	if alg != "" {
		m["alg"] = alg
	}
	b, _ := json.Marshal(m)
	return b
}

type teeCase struct {
	name string
	priv crypto.PrivateKey
	jwk  []byte
	alg  string
}

func teeCases(t *testing.T) []teeCase {
	t.Helper()
	var cs []teeCase
	r := rsa2048()
	cs = append(cs,
		teeCase{"rsa2048-oaep-256", r, rsaJWK(&r.PublicKey, "RSA-OAEP-256"), "RSA-OAEP-256"},
		teeCase{"rsa2048-oaep", r, rsaJWK(&r.PublicKey, "RSA-OAEP"), "RSA-OAEP"},
		teeCase{"rsa2048-default-alg", r, rsaJWK(&r.PublicKey, ""), "RSA-OAEP-256"},
	)
	for _, c := range []struct {
		crv   string
		curve elliptic.Curve
	}{{"P-256", elliptic.P256()}, {"P-384", elliptic.P384()}, {"P-521", elliptic.P521()}} {
		k, err := ecdsa.GenerateKey(c.curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs,
			teeCase{"ec-" + c.crv, k, ecJWK(&k.PublicKey, c.crv, "ECDH-ES+A256KW"), "ECDH-ES+A256KW"},
			teeCase{"ec-" + c.crv + "-default-alg", k, ecJWK(&k.PublicKey, c.crv, ""), "ECDH-ES+A256KW"},
		)
	}
	for _, kind := range []string{"", "ec-p256", "rsa-3072"} {
		priv, pub, err := broker.GenerateTEEKey(kind)
		if err != nil {
			t.Fatal(err)
		}
		alg := "ECDH-ES+A256KW"
		if kind == "rsa-3072" {
			alg = "RSA-OAEP-256"
		}
		cs = append(cs, teeCase{"generated-" + kind, priv, pub, alg})
	}
	return cs
}

// TestWrapUnwrap: every algorithm and curve round-trips, the output has
// exactly the KBS Response members, and an independent decryption (no
// go-jose) reads it.
func TestWrapUnwrap(t *testing.T) {
	payload := []byte(`{"db-password":"hunter2"}`)
	for _, tc := range teeCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			k, err := broker.ParseTEEKey(tc.jwk)
			if err != nil {
				t.Fatal(err)
			}
			if k.Alg != tc.alg {
				t.Errorf("Alg = %s, want %s", k.Alg, tc.alg)
			}
			jwe, err := broker.Wrap(payload, k)
			if err != nil {
				t.Fatal(err)
			}
			checkShape(t, jwe, tc.alg)
			got, err := broker.Unwrap(jwe, tc.priv)
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("Unwrap = %q, %v", got, err)
			}
			got, err = independentDecrypt(jwe, tc.priv)
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("independent decryption = %q, %v", got, err)
			}
		})
	}
}

func TestWrapEmptyPayload(t *testing.T) {
	priv, pub, err := broker.GenerateTEEKey("ec-p256")
	if err != nil {
		t.Fatal(err)
	}
	k, err := broker.ParseTEEKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	jwe, err := broker.Wrap(nil, k)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := broker.Unwrap(jwe, priv); err != nil || len(got) != 0 {
		t.Fatalf("Unwrap = %q, %v", got, err)
	}
}

// checkShape: flattened JSON serialization (RFC 7516 section 7.2.2) with
// the members of the KBS Resource Response, in its order, and a protected
// header of alg, enc (and epk, public members only, for ECDH-ES).
func checkShape(t *testing.T, jwe []byte, alg string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(jwe))
	var names []string
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", jwe)
	}
	for dec.More() {
		tok, _ := dec.Token()
		names = append(names, tok.(string))
		var v string
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("member %v is not a string: %v", tok, err)
		}
		if strings.ContainsAny(v, "=+/") {
			t.Errorf("member %v is not unpadded base64url: %s", tok, v)
		}
	}
	if got := strings.Join(names, ","); got != "protected,encrypted_key,iv,ciphertext,tag" {
		t.Errorf("members %s", got)
	}
	var s struct{ Protected string }
	json.Unmarshal(jwe, &s)
	ph, err := b64.DecodeString(s.Protected)
	if err != nil {
		t.Fatal(err)
	}
	// The Confidential Containers client authenticates its own
	// re-serialization of the header, which reproduces only canonical
	// bytes (see Wrap).
	if canon, err := jcs.Canonicalize(ph); err != nil || !bytes.Equal(canon, ph) {
		t.Errorf("protected header is not in RFC 8785 form: %s", ph)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(ph, &hdr); err != nil {
		t.Fatal(err)
	}
	want := []string{"alg", "enc"}
	if strings.HasPrefix(alg, "ECDH") {
		want = append(want, "epk")
		var epk map[string]any
		json.Unmarshal(hdr["epk"], &epk)
		var keys []string
		for k := range epk {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if strings.Join(keys, ",") != "crv,kty,x,y" {
			t.Errorf("epk members %v", keys)
		}
	}
	var got []string
	for k := range hdr {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("protected header members %v, want %v: %s", got, want, ph)
	}
	if string(hdr["alg"]) != `"`+alg+`"` || string(hdr["enc"]) != `"A256GCM"` {
		t.Errorf("protected header %s", ph)
	}
}

// independentDecrypt decrypts a flattened JWE with the standard library
// alone, following RFC 7516 section 5.2, RFC 7518 sections 4.3 (RSA-OAEP),
// 4.6 (ECDH-ES, Concat KDF), 4.4 (AES key wrap, RFC 3394) and 5.3
// (AES-GCM): what a client that does not use go-jose does. Like the
// Confidential Containers Rust client (kbs_types ProtectedHeader::
// generate_aad), it computes the AAD from its own re-serialization of the
// parsed protected header (alg, enc, then the other members in key
// order, compact), not from the received string.
func independentDecrypt(jwe []byte, priv crypto.PrivateKey) ([]byte, error) {
	var m map[string]string
	if err := json.Unmarshal(jwe, &m); err != nil {
		return nil, err
	}
	field := func(name string) []byte {
		b, err := b64.DecodeString(m[name])
		if err != nil {
			panic(fmt.Sprintf("%s: %v", name, err))
		}
		return b
	}
	ph := field("protected")
	var hdr struct {
		Alg, Enc string
		EPK      struct{ Kty, Crv, X, Y string }
	}
	if err := json.Unmarshal(ph, &hdr); err != nil {
		return nil, err
	}
	if hdr.Enc != "A256GCM" {
		return nil, fmt.Errorf("enc %s", hdr.Enc)
	}
	var cek []byte
	switch hdr.Alg {
	case "RSA-OAEP-256", "RSA-OAEP":
		var h hash.Hash = sha256.New()
		if hdr.Alg == "RSA-OAEP" {
			h = sha1.New()
		}
		var err error
		cek, err = rsa.DecryptOAEP(h, nil, priv.(*rsa.PrivateKey), field("encrypted_key"), nil)
		if err != nil {
			return nil, err
		}
	case "ECDH-ES+A256KW":
		ek := priv.(*ecdsa.PrivateKey)
		recipient, err := ek.ECDH()
		if err != nil {
			return nil, err
		}
		curve := map[string]ecdh.Curve{"P-256": ecdh.P256(), "P-384": ecdh.P384(), "P-521": ecdh.P521()}[hdr.EPK.Crv]
		x, _ := b64.DecodeString(hdr.EPK.X)
		y, _ := b64.DecodeString(hdr.EPK.Y)
		epk, err := curve.NewPublicKey(append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, err
		}
		z, err := recipient.ECDH(epk)
		if err != nil {
			return nil, err
		}
		kek := concatKDF(z, hdr.Alg, nil, nil, 256)
		cek, err = aesKeyUnwrap(kek, field("encrypted_key"))
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("alg %s", hdr.Alg)
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	reserialized, err := jcs.Canonicalize(ph)
	if err != nil {
		return nil, err
	}
	aad := []byte(b64.EncodeToString(reserialized))
	return gcm.Open(nil, field("iv"), append(field("ciphertext"), field("tag")...), aad)
}

// concatKDF is the single-step KDF of NIST SP 800-56A section 5.8.1 with
// SHA-256, as RFC 7518 section 4.6.2 parameterizes it: OtherInfo =
// AlgorithmID ‖ PartyUInfo ‖ PartyVInfo (each length-prefixed) ‖
// SuppPubInfo (keydatalen in bits, 32-bit big-endian).
func concatKDF(z []byte, alg string, apu, apv []byte, bits int) []byte {
	prefixed := func(b []byte) []byte { return binary.BigEndian.AppendUint32(nil, uint32(len(b))) }
	var other []byte
	other = append(append(other, prefixed([]byte(alg))...), alg...)
	other = append(append(other, prefixed(apu)...), apu...)
	other = append(append(other, prefixed(apv)...), apv...)
	other = binary.BigEndian.AppendUint32(other, uint32(bits))
	var out []byte
	for counter := uint32(1); len(out) < bits/8; counter++ {
		h := sha256.New()
		h.Write(binary.BigEndian.AppendUint32(nil, counter))
		h.Write(z)
		h.Write(other)
		out = h.Sum(out)
	}
	return out[:bits/8]
}

// aesKeyUnwrap is RFC 3394 section 2.2.2 (index-based), with the default
// initial value A6A6A6A6A6A6A6A6 checked in constant time.
func aesKeyUnwrap(kek, wrapped []byte) ([]byte, error) {
	if len(wrapped)%8 != 0 || len(wrapped) < 24 {
		return nil, errors.New("wrapped key length")
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(wrapped)/8 - 1
	a := bytes.Clone(wrapped[:8])
	r := make([][]byte, n)
	for i := range r {
		r[i] = bytes.Clone(wrapped[8*(i+1) : 8*(i+2)])
	}
	buf := make([]byte, 16)
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(buf[:8], binary.BigEndian.Uint64(a)^t)
			copy(buf[8:], r[i-1])
			block.Decrypt(buf, buf)
			copy(a, buf[:8])
			copy(r[i-1], buf[8:])
		}
	}
	if subtle.ConstantTimeCompare(a, []byte{0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6}) != 1 {
		return nil, errors.New("key unwrap integrity check failed")
	}
	return bytes.Join(r, nil), nil
}

// TestIndependentPrimitives checks the test's own Concat KDF and key
// unwrap against published vectors, so that TestWrapUnwrap proves
// interoperability rather than two copies of one mistake.
func TestIndependentPrimitives(t *testing.T) {
	// RFC 7518 Appendix C: ECDH-ES with A128GCM, apu "Alice", apv "Bob".
	bobD, _ := b64.DecodeString("VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw")
	bob, err := ecdh.P256().NewPrivateKey(bobD)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := b64.DecodeString("gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0")
	y, _ := b64.DecodeString("SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps")
	alice, err := ecdh.P256().NewPublicKey(append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	z, err := bob.ECDH(alice)
	if err != nil {
		t.Fatal(err)
	}
	if got := b64.EncodeToString(concatKDF(z, "A128GCM", []byte("Alice"), []byte("Bob"), 128)); got != "VqqN6vgjbSBcIijNcacQGg" {
		t.Errorf("Concat KDF: %s, want VqqN6vgjbSBcIijNcacQGg (RFC 7518 Appendix C)", got)
	}
	// RFC 3394 section 4.6: 256-bit key data with a 256-bit KEK.
	kek, _ := hex.DecodeString("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
	wrapped, _ := hex.DecodeString("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21")
	want, _ := hex.DecodeString("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
	got, err := aesKeyUnwrap(kek, wrapped)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("AES key unwrap: %x, %v (RFC 3394 section 4.6)", got, err)
	}
	wrapped[0] ^= 1
	if _, err := aesKeyUnwrap(kek, wrapped); err == nil {
		t.Error("AES key unwrap accepted a modified input")
	}
}

// TestUnwrapRejectsTampering: every member, and the protected header,
// is authenticated.
func TestUnwrapRejectsTampering(t *testing.T) {
	for _, tc := range teeCases(t)[:4] { // one RSA pair, P-256, enough here
		t.Run(tc.name, func(t *testing.T) {
			k, err := broker.ParseTEEKey(tc.jwk)
			if err != nil {
				t.Fatal(err)
			}
			jwe, err := broker.Wrap([]byte("payload"), k)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]string
			json.Unmarshal(jwe, &m)
			for _, member := range []string{"protected", "encrypted_key", "iv", "ciphertext", "tag"} {
				raw, _ := b64.DecodeString(m[member])
				for _, at := range []int{0, len(raw) / 2, len(raw) - 1} {
					bad := bytes.Clone(raw)
					bad[at] ^= 0x10
					if err := unwrapWith(jwe, member, b64.EncodeToString(bad), tc.priv); !errors.Is(err, broker.ErrJWE) {
						t.Errorf("%s byte %d flipped: got %v, want ErrJWE", member, at, err)
					}
				}
				if err := unwrapWith(jwe, member, "", tc.priv); !errors.Is(err, broker.ErrJWE) {
					t.Errorf("%s emptied: got %v, want ErrJWE", member, err)
				}
			}
			// A protected header re-encoded with an extra member: valid
			// JSON, still the same algorithms, but no longer the
			// authenticated bytes.
			ph, _ := b64.DecodeString(m["protected"])
			var hdr map[string]any
			json.Unmarshal(ph, &hdr)
			hdr["kid"] = "x"
			ph2, _ := json.Marshal(hdr)
			if err := unwrapWith(jwe, "protected", b64.EncodeToString(ph2), tc.priv); !errors.Is(err, broker.ErrJWE) {
				t.Errorf("re-encoded protected header: got %v, want ErrJWE", err)
			}
		})
	}
}

func unwrapWith(jwe []byte, member, value string, priv crypto.PrivateKey) error {
	var m map[string]string
	json.Unmarshal(jwe, &m)
	m[member] = value
	b, _ := json.Marshal(m)
	_, err := broker.Unwrap(b, priv)
	return err
}

func TestUnwrapRejects(t *testing.T) {
	ecPriv, ecPub, err := broker.GenerateTEEKey("ec-p256")
	if err != nil {
		t.Fatal(err)
	}
	otherEC, _, _ := broker.GenerateTEEKey("ec-p256")
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k, _ := broker.ParseTEEKey(ecPub)
	jwe, err := broker.Wrap([]byte("payload"), k)
	if err != nil {
		t.Fatal(err)
	}
	r := rsa2048()
	rk, _ := broker.ParseTEEKey(rsaJWK(&r.PublicKey, "RSA-OAEP-256"))
	rsaJWE, err := broker.Wrap([]byte("payload"), rk)
	if err != nil {
		t.Fatal(err)
	}
	otherRSA, _, _ := broker.GenerateTEEKey("rsa-3072")

	var m map[string]any
	json.Unmarshal(jwe, &m)
	with := func(k string, v any) []byte {
		c := map[string]any{}
		for a, b := range m {
			c[a] = b
		}
		c[k] = v
		b, _ := json.Marshal(c)
		return b
	}
	ph, _ := b64.DecodeString(m["protected"].(string))
	header := func(k string, v any) string {
		var h map[string]any
		json.Unmarshal(ph, &h)
		h[k] = v
		b, _ := json.Marshal(h)
		return b64.EncodeToString(b)
	}
	for _, tc := range []struct {
		name string
		jwe  []byte
		priv crypto.PrivateKey
	}{
		{"wrong-ec-key", jwe, otherEC},
		{"wrong-curve", jwe, p384},
		{"rsa-key-for-ec-jwe", jwe, r},
		{"wrong-rsa-key", rsaJWE, otherRSA},
		{"ec-key-for-rsa-jwe", rsaJWE, ecPriv},
		{"ecdh-private-key-type", jwe, mustECDH(ecPriv)},
		{"nil-key", jwe, nil},
		{"typed-nil-key", jwe, (*ecdsa.PrivateKey)(nil)},
		{"not-json", []byte("eyJ.compact.form"), ecPriv},
		{"trailing-data", append(bytes.Clone(jwe), []byte(" {}")...), ecPriv},
		{"unprotected-header", with("header", map[string]string{"kid": "1"}), ecPriv},
		{"shared-unprotected", with("unprotected", map[string]string{"kid": "1"}), ecPriv},
		{"recipients", with("recipients", []any{}), ecPriv},
		{"aad-added", with("aad", b64.EncodeToString([]byte("x"))), ecPriv},
		{"zip", with("protected", header("zip", "DEF")), ecPriv},
		{"alg-dir", with("protected", header("alg", "dir")), ecPriv},
		{"alg-rsa-for-ec", with("protected", header("alg", "RSA-OAEP-256")), ecPriv},
		{"enc-a128gcm", with("protected", header("enc", "A128GCM")), ecPriv},
		{"crit", with("protected", header("crit", []string{"exp"})), ecPriv},
		{"no-alg", with("protected", header("alg", nil)), ecPriv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := broker.Unwrap(tc.jwe, tc.priv); !errors.Is(err, broker.ErrJWE) {
				t.Errorf("got %q, %v; want ErrJWE", got, err)
			}
		})
	}
}

func mustECDH(k crypto.PrivateKey) *ecdh.PrivateKey {
	e, err := k.(*ecdsa.PrivateKey).ECDH()
	if err != nil {
		panic(err)
	}
	return e
}

func TestGenerateTEEKey(t *testing.T) {
	for _, kind := range []string{"", "ec-p256", "rsa-3072"} {
		priv, pub, err := broker.GenerateTEEKey(kind)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(pub, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["d"]; ok {
			t.Fatalf("%s: public JWK has a private member", kind)
		}
		switch kind {
		case "rsa-3072":
			if m["kty"] != "RSA" || m["alg"] != "RSA-OAEP-256" || priv.(*rsa.PrivateKey).N.BitLen() != 3072 {
				t.Errorf("%s: %s", kind, pub)
			}
			if !strings.HasPrefix(string(pub), `{"alg":"RSA-OAEP-256","e":"AQAB","kty":"RSA","n":"`) {
				t.Errorf("%s: not canonical: %s", kind, pub)
			}
		default:
			if m["kty"] != "EC" || m["crv"] != "P-256" || m["alg"] != "ECDH-ES+A256KW" {
				t.Errorf("%q: %s", kind, pub)
			}
			if !strings.HasPrefix(string(pub), `{"alg":"ECDH-ES+A256KW","crv":"P-256","kty":"EC","x":"`) {
				t.Errorf("%q: not canonical: %s", kind, pub)
			}
		}
	}
	if _, _, err := broker.GenerateTEEKey("rsa-1024"); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestParseTEEKeyRejects(t *testing.T) {
	r := rsa2048()
	n := b64.EncodeToString(r.N.Bytes())
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var good map[string]string
	json.Unmarshal(ecJWK(&ec.PublicKey, "P-256", "ECDH-ES+A256KW"), &good)
	ecWith := func(k, v string) string {
		c := map[string]string{}
		for a, b := range good {
			c[a] = b
		}
		if v == "-" {
			delete(c, k)
		} else {
			c[k] = v
		}
		b, _ := json.Marshal(c)
		return string(b)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	y, _ := b64.DecodeString(good["y"])
	y[len(y)-1] ^= 1
	offCurve := b64.EncodeToString(y)
	x, _ := b64.DecodeString(good["x"])
	for _, tc := range []struct{ name, jwk string }{
		{"rsa1_5", `{"kty":"RSA","alg":"RSA1_5","n":"` + n + `","e":"AQAB"}`},
		{"rsa-1024", string(rsaJWK(&small.PublicKey, "RSA-OAEP-256"))},
		{"rsa-even-modulus", `{"kty":"RSA","n":"` + b64.EncodeToString(new(big.Int).Lsh(big.NewInt(1), 2047).Bytes()) + `","e":"AQAB"}`},
		{"rsa-e-1", `{"kty":"RSA","n":"` + n + `","e":"AQ"}`},
		{"rsa-e-even", `{"kty":"RSA","n":"` + n + `","e":"AQAA"}`},
		{"rsa-e-huge", `{"kty":"RSA","n":"` + n + `","e":"AQAAAAE"}`},
		{"rsa-no-n", `{"kty":"RSA","e":"AQAB"}`},
		{"rsa-n-padded-base64", `{"kty":"RSA","n":"` + base64.URLEncoding.EncodeToString(r.N.Bytes()) + `=","e":"AQAB"}`},
		{"rsa-n-std-base64", `{"kty":"RSA","n":"` + strings.NewReplacer("-", "+", "_", "/").Replace(n) + `+/","e":"AQAB"}`},
		{"rsa-n-number", `{"kty":"RSA","n":12345,"e":"AQAB"}`},
		{"rsa-with-ecdh-alg", `{"kty":"RSA","alg":"ECDH-ES+A256KW","n":"` + n + `","e":"AQAB"}`},
		{"rsa-unknown-alg", `{"kty":"RSA","alg":"RSA-OAEP-512","n":"` + n + `","e":"AQAB"}`},
		{"rsa-private", `{"kty":"RSA","n":"` + n + `","e":"AQAB","d":"AQAB"}`},
		{"ec-with-rsa-alg", ecWith("alg", "RSA-OAEP-256")},
		{"ec-rsa1_5", ecWith("alg", "RSA1_5")},
		{"ec-ecdh-es-direct", ecWith("alg", "ECDH-ES")},
		{"ec-a128kw", ecWith("alg", "ECDH-ES+A128KW")},
		{"ec-empty-alg", ecWith("alg", "")},
		{"ec-off-curve", ecWith("y", offCurve)},
		{"ec-short-x", ecWith("x", b64.EncodeToString(x[1:]))},
		{"ec-long-x", ecWith("x", b64.EncodeToString(append([]byte{0}, x...)))},
		{"ec-no-crv", ecWith("crv", "-")},
		{"ec-p192", ecWith("crv", "P-192")},
		{"ec-secp256k1", ecWith("crv", "secp256k1")},
		{"ec-crv-case", ecWith("crv", "p-256")},
		{"ec-no-y", ecWith("y", "-")},
		{"ec-private", ecWith("d", b64.EncodeToString(make([]byte, 32)))},
		{"ec-use-sig", ecWith("use", "sig")},
		{"ec-identity", ecWith("x", b64.EncodeToString(make([]byte, 32)))},
		{"okp", `{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`},
		{"oct", `{"kty":"oct","k":"AAAA"}`},
		{"no-kty", `{"n":"` + n + `","e":"AQAB"}`},
		{"kty-case", `{"kty":"rsa","n":"` + n + `","e":"AQAB"}`},
		{"kty-number", `{"kty":1}`},
		{"duplicate-member", `{"kty":"RSA","kty":"EC","n":"` + n + `","e":"AQAB"}`},
		{"case-variant-member", `{"kty":"RSA","N":"` + n + `","e":"AQAB"}`},
		{"array", `[]`},
		{"null", `null`},
		{"string", `"RSA"`},
		{"empty", ``},
		{"invalid-utf8", "{\"kty\":\"RSA\xff\"}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := broker.ParseTEEKey([]byte(tc.jwk))
			if !errors.Is(err, broker.ErrTEEKey) {
				t.Fatalf("got %+v, %v; want ErrTEEKey", k, err)
			}
		})
	}
}

func TestParseTEEKeyTolerates(t *testing.T) {
	r := rsa2048()
	for _, tc := range []struct{ name, jwk string }{
		{"unknown-members", `{"kty":"RSA","n":"` + b64.EncodeToString(r.N.Bytes()) + `","e":"AQAB","kid":"tee-1","ext":true,"key_ops":["wrapKey"]}`},
		{"use-enc", `{"kty":"RSA","use":"enc","n":"` + b64.EncodeToString(r.N.Bytes()) + `","e":"AQAB"}`},
		{"leading-zero-octet", `{"kty":"RSA","n":"` + b64.EncodeToString(append([]byte{0}, r.N.Bytes()...)) + `","e":"AAEAAQ"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := broker.ParseTEEKey([]byte(tc.jwk))
			if err != nil {
				t.Fatal(err)
			}
			if pub := k.Public.(*rsa.PublicKey); pub.N.Cmp(r.N) != 0 || pub.E != 65537 || k.Alg != "RSA-OAEP-256" {
				t.Errorf("parsed %+v", k)
			}
		})
	}
}

// TestWrapRejectsBadKeys: a TEEKey built in code is checked like a parsed
// one.
func TestWrapRejectsBadKeys(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec, _ := ecdh.P256().GenerateKey(rand.Reader)
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	ecdsaKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	r := rsa2048()
	for _, tc := range []struct {
		name string
		k    broker.TEEKey
	}{
		{"zero", broker.TEEKey{}},
		{"no-alg", broker.TEEKey{Public: &r.PublicKey}},
		{"rsa1_5", broker.TEEKey{Alg: "RSA1_5", Public: &r.PublicKey}},
		{"rsa-small", broker.TEEKey{Alg: "RSA-OAEP-256", Public: &small.PublicKey}},
		{"rsa-with-ecdh", broker.TEEKey{Alg: "ECDH-ES+A256KW", Public: &r.PublicKey}},
		{"nil-rsa", broker.TEEKey{Alg: "RSA-OAEP-256", Public: (*rsa.PublicKey)(nil)}},
		{"rsa-no-modulus", broker.TEEKey{Alg: "RSA-OAEP-256", Public: &rsa.PublicKey{E: 65537}}},
		{"rsa-e-even", broker.TEEKey{Alg: "RSA-OAEP-256", Public: &rsa.PublicKey{N: r.N, E: 65536}}},
		{"ec-with-rsa-alg", broker.TEEKey{Alg: "RSA-OAEP", Public: ec.PublicKey()}},
		{"ec-x25519", broker.TEEKey{Alg: "ECDH-ES+A256KW", Public: x25519.PublicKey()}},
		{"ec-zero", broker.TEEKey{Alg: "ECDH-ES+A256KW", Public: &ecdh.PublicKey{}}},
		{"ec-nil", broker.TEEKey{Alg: "ECDH-ES+A256KW", Public: (*ecdh.PublicKey)(nil)}},
		{"ecdsa-type", broker.TEEKey{Alg: "ECDH-ES+A256KW", Public: &ecdsaKey.PublicKey}},
		{"private-key", broker.TEEKey{Alg: "ECDH-ES+A256KW", Public: ec}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := broker.Wrap([]byte("x"), tc.k); !errors.Is(err, broker.ErrTEEKey) {
				t.Errorf("got %v, want ErrTEEKey", err)
			}
		})
	}
}

func ExampleWrap() {
	// Client side: an ephemeral key whose JWK goes into the KBS
	// runtime-data (and, hashed, into the TEE evidence).
	priv, jwk, err := broker.GenerateTEEKey("ec-p256")
	if err != nil {
		fmt.Println(err)
		return
	}
	// Broker side, after the evidence verified and the policy allowed.
	k, err := broker.ParseTEEKey(jwk)
	if err != nil {
		fmt.Println(err)
		return
	}
	jwe, err := broker.Wrap([]byte("hunter2"), k)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Client side again.
	secret, err := broker.Unwrap(jwe, priv)
	fmt.Println(k.Alg, string(secret), err)
	// Output: ECDH-ES+A256KW hunter2 <nil>
}
