package tcg

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// IMA allow list formats.
const (
	// FormatIMAAllowList: lines of "<hex digest> <path>", as sha256sum
	// and its siblings print them (GNU coreutils: two spaces, or a space
	// and "*", between digest and name; a leading backslash when the
	// name has a newline, carriage return or backslash, escaped as \n,
	// \r, \\), and Keylime's flat allow lists ("<digest> <path>"). Blank
	// lines and lines starting with "#" are skipped.
	FormatIMAAllowList = "ima-allowlist"
	// FormatKeylimePolicy: Keylime's runtime policy JSON
	// (docs/user_guide/runtime_ima.rst, "Runtime Policy JSON Schema"):
	// {"meta": {"version", "generator"}, "release", "digests": {path:
	// [hex, ...]}, "excludes": [regex, ...], "keyrings", "ima-buf",
	// "verification-keys", "ima"}.
	FormatKeylimePolicy = "keylime-runtime-policy"
)

// IMAPolicy is an allow list of file digests by path.
type IMAPolicy struct {
	Format string
	// Digests are the allowed file digests of each path, lower-case hex.
	// A digest's algorithm is not recorded: as Keylime does, a
	// measurement is allowed when its hex digest is among its path's.
	Digests map[string][]string
	// Excludes are Keylime's exclude patterns, as given: a path that one
	// matches from its start (Python's re.match of the patterns joined
	// with "|") is not judged at all.
	Excludes []string
	exclude  *regexp.Regexp
	// Keys are the keys of a Keylime policy's "verification-keys".
	Keys []IMAKey
	// Unevaluated names the non-empty parts of a Keylime policy that are
	// read but not judged ("keyrings", "ima-buf").
	Unevaluated []string
}

// digestLengths are the hex lengths of the digests IMA records: MD5,
// SHA-1, SHA-224, SHA-256 (and SM3-256), SHA-384, SHA-512.
var digestLengths = []int{32, 40, 56, 64, 96, 128}

// isDigestHex reports whether s is a digest in hex of a length IMA uses.
func isDigestHex(s string) bool {
	if !slices.Contains(digestLengths, len(s)) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// SniffIMAPolicy recognises an allow list: a JSON object with a
// "digests" (or legacy "hashes") object of arrays, or text whose every
// line that is not blank or a comment is "<hex digest> <path>". No
// crypto; the whole input is parsed.
func SniffIMAPolicy(b []byte) (format string, ok bool) {
	p, err := ParseIMAPolicy(b)
	if err != nil {
		return "", false
	}
	return p.Format, true
}

// ParseIMAPolicy reads an allow list in either format (see
// FormatIMAAllowList, FormatKeylimePolicy).
func ParseIMAPolicy(b []byte) (*IMAPolicy, error) {
	t := bytes.TrimSpace(b)
	if len(t) > 0 && t[0] == '{' {
		return parseKeylimePolicy(t)
	}
	return parseAllowList(b)
}

func parseAllowList(b []byte) (*IMAPolicy, error) {
	if !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		return nil, fmt.Errorf("%w: IMA allow list: not UTF-8 text", ErrMalformed)
	}
	p := &IMAPolicy{Format: FormatIMAAllowList, Digests: map[string][]string{}}
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		digest, path, err := parseAllowLine(line)
		if err != nil {
			return nil, fmt.Errorf("%w: IMA allow list line %d: %v", ErrMalformed, n+1, err)
		}
		p.add(path, digest)
	}
	if len(p.Digests) == 0 {
		return nil, fmt.Errorf("%w: IMA allow list: no \"<digest> <path>\" line", ErrMalformed)
	}
	return p, nil
}

// parseAllowLine reads one "<hex> <path>" line in GNU coreutils' format
// (src/digest.c: an optional backslash marking an escaped name, the
// digest, a space, a space or "*", the name) or with a single space.
func parseAllowLine(line string) (digest, path string, err error) {
	escaped := strings.HasPrefix(line, "\\")
	if escaped {
		line = line[1:]
	}
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return "", "", fmt.Errorf("no space between digest and path")
	}
	digest = line[:i]
	if !isDigestHex(digest) {
		return "", "", fmt.Errorf("%q is not a hex digest of 32, 40, 56, 64, 96 or 128 digits", truncate(digest, 20))
	}
	path = line[i+1:]
	if strings.HasPrefix(path, " ") || strings.HasPrefix(path, "*") {
		path = path[1:]
	}
	if escaped {
		if path, err = unescapeName(path); err != nil {
			return "", "", err
		}
	}
	if path == "" {
		return "", "", fmt.Errorf("no path after the digest")
	}
	return strings.ToLower(digest), path, nil
}

func unescapeName(s string) (string, error) {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("escaped name ends in a backslash")
		}
		i++
		switch s[i] {
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case '\\':
			out.WriteByte('\\')
		default:
			return "", fmt.Errorf("escaped name has \\%c", s[i])
		}
	}
	return out.String(), nil
}

func escapeName(s string) (string, bool) {
	if !strings.ContainsAny(s, "\n\r\\") {
		return s, false
	}
	r := strings.NewReplacer("\\", "\\\\", "\n", "\\n", "\r", "\\r")
	return r.Replace(s), true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (p *IMAPolicy) add(path, digest string) {
	if !slices.Contains(p.Digests[path], digest) {
		p.Digests[path] = append(p.Digests[path], digest)
	}
}

// keylimePolicy is the JSON of a Keylime runtime policy; parts that are
// not judged are kept raw.
type keylimePolicy struct {
	Meta *struct {
		Version int `json:"version"`
	} `json:"meta"`
	Digests          map[string][]string        `json:"digests"`
	Hashes           map[string][]string        `json:"hashes"` // the allow list JSON before runtime policies
	Excludes         []string                   `json:"excludes"`
	Keyrings         map[string]json.RawMessage `json:"keyrings"`
	IMABuf           map[string]json.RawMessage `json:"ima-buf"`
	VerificationKeys string                     `json:"verification-keys"`
}

// maxExcludes bounds the exclude patterns compiled into one expression.
const maxExcludes = 4096

func parseKeylimePolicy(b []byte) (*IMAPolicy, error) {
	var k keylimePolicy
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("%w: Keylime runtime policy: %v", ErrMalformed, err)
	}
	digests := k.Digests
	if digests == nil {
		digests = k.Hashes
	}
	if digests == nil {
		return nil, fmt.Errorf("%w: Keylime runtime policy: no \"digests\" object", ErrMalformed)
	}
	if k.Meta != nil && k.Meta.Version < 1 {
		return nil, fmt.Errorf("%w: Keylime runtime policy: meta.version %d, want 1 or later", ErrMalformed, k.Meta.Version)
	}
	p := &IMAPolicy{Format: FormatKeylimePolicy, Digests: map[string][]string{}}
	for path, ds := range digests {
		if path == "" {
			return nil, fmt.Errorf("%w: Keylime runtime policy: empty path in digests", ErrMalformed)
		}
		for _, d := range ds {
			if !isDigestHex(d) {
				return nil, fmt.Errorf("%w: Keylime runtime policy: digest %q of %q is not hex of an IMA digest length", ErrMalformed, truncate(d, 20), truncate(path, 60))
			}
			p.add(path, strings.ToLower(d))
		}
		if len(ds) == 0 {
			p.Digests[path] = []string{}
		}
	}
	if len(k.Excludes) > maxExcludes {
		return nil, fmt.Errorf("%w: Keylime runtime policy: %d excludes, at most %d", ErrMalformed, len(k.Excludes), maxExcludes)
	}
	if err := p.setExcludes(k.Excludes); err != nil {
		return nil, err
	}
	if len(k.Keyrings) > 0 {
		p.Unevaluated = append(p.Unevaluated, "keyrings")
	}
	if len(k.IMABuf) > 0 {
		p.Unevaluated = append(p.Unevaluated, "ima-buf")
	}
	if k.VerificationKeys != "" {
		keys, err := parseKeylimeKeyring(k.VerificationKeys)
		if err != nil {
			return nil, err
		}
		p.Keys = keys
	}
	return p, nil
}

// setExcludes compiles the exclude patterns as Keylime does
// (keylime/common/validators.py, valid_exclude_list: "(" + ")|(".join +
// ")", used with re.match, which anchors at the start only). Go's RE2
// has no backreferences or lookaround: such a pattern is an error here.
func (p *IMAPolicy) setExcludes(ex []string) error {
	p.Excludes = ex
	if len(ex) == 0 {
		return nil
	}
	for _, e := range ex {
		if _, err := regexp.Compile(e); err != nil {
			return fmt.Errorf("%w: Keylime runtime policy: exclude %q is not an RE2 regular expression: %v", ErrMalformed, truncate(e, 60), err)
		}
	}
	re, err := regexp.Compile("^(?:(" + strings.Join(ex, ")|(") + "))")
	if err != nil {
		return fmt.Errorf("%w: Keylime runtime policy: excludes: %v", ErrMalformed, err)
	}
	p.exclude = re
	return nil
}

// parseKeylimeKeyring reads a Keylime IMA keyring: the JSON string of
// {"pubkeys": [base64 DER SubjectPublicKeyInfo, ...], "keyids": [uint32,
// ...]} (keylime/ima/file_signatures.py, ImaKeyring.from_string).
func parseKeylimeKeyring(s string) ([]IMAKey, error) {
	var kr struct {
		Pubkeys []string `json:"pubkeys"`
		Keyids  []uint32 `json:"keyids"`
	}
	if err := json.Unmarshal([]byte(s), &kr); err != nil {
		return nil, fmt.Errorf("%w: Keylime runtime policy: verification-keys: %v", ErrMalformed, err)
	}
	var out []IMAKey
	for i, pk := range kr.Pubkeys {
		der, err := base64.StdEncoding.DecodeString(pk)
		if err != nil {
			return nil, fmt.Errorf("%w: Keylime runtime policy: verification-keys pubkeys[%d]: %v", ErrMalformed, i, err)
		}
		keys, err := ParseIMAKeys(der, fmt.Sprintf("verification-keys[%d]", i))
		if err != nil {
			// A key Go cannot use (secp256k1) is not an error of the
			// policy: signatures by it are reported as unverifiable.
			continue
		}
		k := keys[0]
		if i < len(kr.Keyids) {
			k.ID = [4]byte{byte(kr.Keyids[i] >> 24), byte(kr.Keyids[i] >> 16), byte(kr.Keyids[i] >> 8), byte(kr.Keyids[i])}
		}
		out = append(out, k)
	}
	return out, nil
}

// Excluded reports whether path matches an exclude pattern.
func (p *IMAPolicy) Excluded(path string) bool {
	return p.exclude != nil && p.exclude.MatchString(path)
}

// Lookup says whether path is in the list and, if so, whether digest
// (hex, any case) is among its digests.
func (p *IMAPolicy) Lookup(path, digest string) (listed, allowed bool) {
	ds, ok := p.Digests[path]
	if !ok {
		return false, false
	}
	return true, slices.Contains(ds, strings.ToLower(digest))
}

// Entries is the number of (path, digest) pairs.
func (p *IMAPolicy) Entries() int {
	n := 0
	for _, ds := range p.Digests {
		n += len(ds)
	}
	return n
}

// Marshal encodes the policy in its format: sorted "<digest>  <path>"
// lines, or a Keylime runtime policy with "digests" and "excludes" (the
// verification keys and the unevaluated parts are not written).
func (p *IMAPolicy) Marshal() []byte {
	paths := make([]string, 0, len(p.Digests))
	for path := range p.Digests {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	if p.Format == FormatKeylimePolicy {
		m := struct {
			Meta     map[string]int      `json:"meta"`
			Digests  map[string][]string `json:"digests"`
			Excludes []string            `json:"excludes"`
		}{map[string]int{"version": 1}, p.Digests, p.Excludes}
		if m.Excludes == nil {
			m.Excludes = []string{}
		}
		b, _ := json.Marshal(m)
		return b
	}
	var out bytes.Buffer
	for _, path := range paths {
		for _, d := range p.Digests[path] {
			name, esc := escapeName(path)
			if esc {
				out.WriteByte('\\')
			}
			fmt.Fprintf(&out, "%s  %s\n", d, name)
		}
	}
	return out.Bytes()
}
