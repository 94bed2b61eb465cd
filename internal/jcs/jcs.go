// Package jcs implements the JSON Canonicalization Scheme (JCS) of RFC 8785:
// one byte sequence for every JSON value, so that two parties hashing "the
// same" JSON get the same digest.
//
// Assay needs it to recompute the Confidential Containers KBS runtime-data
// binding, HASH(JCS({"additional-evidence", "nonce", "tee-pubkey"})), which
// the attester places in its TEE evidence; a single byte of difference and
// the binding fails.
//
// Canonicalize accepts any JSON text (RFC 8259) that is also I-JSON
// (RFC 7493), as RFC 8785 section 3.1 requires: valid UTF-8, no lone
// surrogates, no duplicate member names, and numbers that an IEEE 754
// double can hold. Anything else is rejected with ErrMalformed rather than
// silently repaired, because a repaired input would hash differently on the
// other side.
//
// Numbers are read as double precision values, as RFC 8785 section 3.2.2.3
// prescribes, so an integer beyond 2^53 loses precision exactly as it does
// in every other JCS implementation; values that need more precision belong
// in strings (RFC 8785 Appendix D).
package jcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrMalformed is wrapped by every error Canonicalize returns: the input is
// not JSON, or is JSON that RFC 8785 (through I-JSON) does not accept.
var ErrMalformed = errors.New("jcs: malformed input")

// maxDepth bounds nesting, as encoding/json's own scanner does; it keeps
// hostile input ("[[[[...") from turning into deep recursion.
const maxDepth = 10000

// Canonicalize returns the RFC 8785 canonical form of the JSON text b:
// object members sorted by the UTF-16 code units of their names, no
// whitespace, strings escaped per section 3.2.2.2, numbers serialized as
// ECMAScript's Number.prototype.toString does (section 3.2.2.3). The
// output is UTF-8.
func Canonicalize(b []byte) ([]byte, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: invalid UTF-8 at byte offset %d", ErrMalformed, invalidUTF8Offset(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keep the literal; ParseFloat rounds it once, correctly
	c := canonicalizer{dec: dec, src: b, out: make([]byte, 0, len(b))}
	tok, err := c.next()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: no JSON value", ErrMalformed)
	}
	if err != nil {
		return nil, err
	}
	if err := c.value(tok, 0); err != nil {
		return nil, err
	}
	switch _, err := c.next(); {
	case err == io.EOF:
		return c.out, nil
	case err != nil:
		return nil, err
	default:
		return nil, fmt.Errorf("%w: data after the top-level value at byte offset %d", ErrMalformed, c.start)
	}
}

type canonicalizer struct {
	dec *json.Decoder
	src []byte
	out []byte
	// start and end delimit, in src, the raw text of the last token read
	// (with the separators and whitespace before it).
	start, end int64
}

// next reads one token and remembers where its raw text lies.
func (c *canonicalizer) next() (json.Token, error) {
	c.start = c.dec.InputOffset()
	tok, err := c.dec.Token()
	c.end = c.dec.InputOffset()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: %v (byte offset %d)", ErrMalformed, se, se.Offset)
		}
		// io.ErrUnexpectedEOF and the like.
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return tok, nil
}

// rawString is the source text of the string token just read, quotes
// included. encoding/json turns lone surrogates into U+FFFD without a word;
// RFC 8785 section 3.2.2.2 wants them rejected, so the escapes are checked
// on the raw text.
func (c *canonicalizer) rawString() ([]byte, error) {
	raw := bytes.TrimLeft(c.src[c.start:c.end], " \t\r\n,:")
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		// Not reachable with encoding/json as it is; fail rather than guess.
		return nil, fmt.Errorf("%w: cannot locate the string at byte offset %d", ErrMalformed, c.start)
	}
	return raw, nil
}

func (c *canonicalizer) checkString() error {
	raw, err := c.rawString()
	if err != nil {
		return err
	}
	if off := loneSurrogate(raw); off >= 0 {
		return fmt.Errorf("%w: lone UTF-16 surrogate escape at byte offset %d", ErrMalformed, c.end-int64(len(raw))+int64(off))
	}
	return nil
}

func (c *canonicalizer) value(tok json.Token, depth int) error {
	switch v := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return fmt.Errorf("%w: nesting deeper than %d at byte offset %d", ErrMalformed, maxDepth, c.start)
		}
		if v == '[' {
			return c.array(depth + 1)
		}
		return c.object(depth + 1) // encoding/json returns only [ or { here
	case string:
		if err := c.checkString(); err != nil {
			return err
		}
		c.out = appendString(c.out, v)
	case json.Number:
		s, err := formatNumber(string(v))
		if err != nil {
			return err
		}
		c.out = append(c.out, s...)
	case bool:
		c.out = strconv.AppendBool(c.out, v)
	case nil:
		c.out = append(c.out, "null"...)
	default:
		return fmt.Errorf("%w: unexpected token %T at byte offset %d", ErrMalformed, tok, c.start)
	}
	return nil
}

func (c *canonicalizer) array(depth int) error {
	c.out = append(c.out, '[')
	for i := 0; ; i++ {
		tok, err := c.next()
		if err != nil {
			return eofIsTruncation(err)
		}
		if tok == json.Delim(']') {
			c.out = append(c.out, ']')
			return nil
		}
		if i > 0 {
			c.out = append(c.out, ',')
		}
		if err := c.value(tok, depth); err != nil {
			return err
		}
	}
}

type member struct {
	name  []uint16 // the sort key: UTF-16 code units (RFC 8785 section 3.2.3)
	value []byte   // canonical "name":value
}

func (c *canonicalizer) object(depth int) error {
	// Members are written to c.out as they come. If their names turn out
	// to be out of order, they are cut out and written back sorted; nested
	// objects are sorted before their parents. Input that is already
	// canonical is never copied.
	base := len(c.out)
	c.out = append(c.out, '{')
	var spans []int // offsets in c.out where each member's "name": starts
	var names []string
	seen := map[string]struct{}{}
	for {
		tok, err := c.next()
		if err != nil {
			return eofIsTruncation(err)
		}
		if tok == json.Delim('}') {
			break
		}
		name, ok := tok.(string)
		if !ok {
			// encoding/json rejects non-string names itself.
			return fmt.Errorf("%w: object member name is not a string at byte offset %d", ErrMalformed, c.start)
		}
		if err := c.checkString(); err != nil {
			return err
		}
		if _, dup := seen[name]; dup {
			return fmt.Errorf("%w: duplicate object member name %s at byte offset %d", ErrMalformed, excerpt(strconv.Quote(name)), c.start)
		}
		seen[name] = struct{}{}
		if len(names) > 0 {
			c.out = append(c.out, ',')
		}
		spans = append(spans, len(c.out))
		names = append(names, name)
		c.out = appendString(c.out, name)
		c.out = append(c.out, ':')
		tok, err = c.next()
		if err != nil {
			return eofIsTruncation(err)
		}
		if err := c.value(tok, depth); err != nil {
			return err
		}
	}
	members := make([]member, len(names))
	for i, name := range names {
		members[i].name = utf16.Encode([]rune(name))
	}
	cmp := func(a, b member) int { return slices.Compare(a.name, b.name) }
	if !slices.IsSortedFunc(members, cmp) {
		for i := range members {
			end := len(c.out)
			if i+1 < len(spans) {
				end = spans[i+1] - 1 // before the comma
			}
			members[i].value = slices.Clone(c.out[spans[i]:end])
		}
		slices.SortFunc(members, cmp)
		c.out = append(c.out[:base], '{')
		for i, m := range members {
			if i > 0 {
				c.out = append(c.out, ',')
			}
			c.out = append(c.out, m.value...)
		}
	}
	c.out = append(c.out, '}')
	return nil
}

// excerpt shortens s for an error message; input can be megabytes.
func excerpt(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func eofIsTruncation(err error) error {
	if err == io.EOF {
		return fmt.Errorf("%w: unexpected end of input", ErrMalformed)
	}
	return err
}

// appendString writes s as RFC 8785 section 3.2.2.2 requires: '"' and '\'
// escaped, the five control characters with short forms as \b \t \n \f \r,
// the other controls below U+0020 as \u00xx in lowercase hex, and
// everything else (including U+007F, U+2028, '/') as itself.
func appendString(out []byte, s string) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b == '"' || b == '\\':
			out = append(out, '\\', b)
		case b == '\b':
			out = append(out, '\\', 'b')
		case b == '\t':
			out = append(out, '\\', 't')
		case b == '\n':
			out = append(out, '\\', 'n')
		case b == '\f':
			out = append(out, '\\', 'f')
		case b == '\r':
			out = append(out, '\\', 'r')
		case b < 0x20:
			out = append(out, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
		default:
			out = append(out, b) // UTF-8 bytes pass through unchanged
		}
	}
	return append(out, '"')
}

// loneSurrogate returns the offset in raw (a JSON string literal, quotes
// included) of a \u escape that is an unpaired UTF-16 surrogate, or -1.
func loneSurrogate(raw []byte) int {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 >= len(raw) {
			return -1
		}
		if raw[i+1] != 'u' {
			i++ // skip the escaped character, which may be a backslash
			continue
		}
		r, ok := hex4(raw, i+2)
		if !ok {
			return -1 // encoding/json has already rejected it
		}
		switch {
		case utf16.IsSurrogate(r) && r < 0xdc00: // high: a low must follow
			if i+12 > len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' {
				return i
			}
			lo, ok := hex4(raw, i+8)
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				return i
			}
			i += 11
		case utf16.IsSurrogate(r): // low without a high before it
			return i
		default:
			i += 5
		}
	}
	return -1
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[at:at+4]), 16, 16)
	if err != nil {
		return 0, false
	}
	return rune(v), true
}

func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// formatNumber parses the JSON number literal lit as an IEEE 754 double
// and serializes it per RFC 8785 section 3.2.2.3.
func formatNumber(lit string) (string, error) {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) {
		return "", fmt.Errorf("%w: number %s is outside the range of an IEEE 754 double", ErrMalformed, excerpt(lit))
	}
	if f == 0 && nonZeroMantissa(lit) {
		// strconv rounds 1e-400 to 0 without complaint; a non-zero number
		// below the smallest subnormal is just as unrepresentable as 1e400.
		return "", fmt.Errorf("%w: number %s is below the smallest IEEE 754 double", ErrMalformed, excerpt(lit))
	}
	return formatFloat(f)
}

func nonZeroMantissa(lit string) bool {
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		lit = lit[:i]
	}
	return strings.ContainsAny(lit, "123456789")
}

// formatFloat is ECMAScript's Number::toString(x) for radix 10 (ECMA-262,
// section 7.1.12.1 in the edition RFC 8785 cites; 6.1.6.1.20 in later
// ones), which RFC 8785 section 3.2.2.3 adopts. NaN and the infinities
// have no JSON form and are errors.
func formatFloat(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("%w: %v has no JSON representation", ErrMalformed, f)
	}
	if f == 0 {
		return "0", nil // both +0 and -0 (step 2)
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	// The shortest digits that round-trip are ECMAScript's s and k (step 5:
	// k as small as possible); 'e' formatting gives them as d.ddd and the
	// decimal exponent n-1.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, err := strconv.Atoi(exp)
	if err != nil {
		return "", fmt.Errorf("%w: cannot format %v", ErrMalformed, f) // not reachable
	}
	k, n := len(digits), x+1
	var s string
	switch {
	case k <= n && n <= 21: // step 6: an integer, padded with zeros
		s = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21: // step 7: the point falls inside the digits
		s = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0: // step 8: 0.000ddd
		s = "0." + strings.Repeat("0", -n) + digits
	default: // steps 9 and 10: exponent form, always signed
		expSign := "+"
		if n-1 < 0 {
			expSign = "-"
		}
		m := digits[:1]
		if k > 1 {
			m += "." + digits[1:]
		}
		s = m + "e" + expSign + strconv.Itoa(abs(n-1))
	}
	return sign + s, nil
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}
