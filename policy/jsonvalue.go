package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// decodeJSON decodes a JSON document into the Go values OPA reads
// (map[string]any, []any, string, json.Number, bool, nil). The claims
// reach the policy through their JSON form (the names the documentation
// gives, custom marshalers honoured). encoding/json's decoder into
// interfaces costs more than the rest of an evaluation; this one converts
// the document to a string once and slices keys and strings without
// escapes from it, and OPA converts the result lazily (ast.LazyObject),
// only as far as a policy reads it.
func decodeJSON(b []byte) (any, error) {
	p := jsonParser{b: b, s: string(b)}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, fmt.Errorf("json: data after the value at offset %d", p.i)
	}
	return v, nil
}

// maxDepth bounds nesting; claims are a few levels deep.
const maxDepth = 64

type jsonParser struct {
	b []byte
	s string // b as a string, to slice from
	i int
}

var errJSONEnd = errors.New("json: unexpected end of input")

func (p *jsonParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("json: nested deeper than %d", maxDepth)
	}
	p.space()
	if p.i >= len(p.b) {
		return nil, errJSONEnd
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.str()
	case c == 't':
		return p.literal("true", true)
	case c == 'f':
		return p.literal("false", false)
	case c == 'n':
		return p.literal("null", nil)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return nil, fmt.Errorf("json: unexpected %q at offset %d", c, p.i)
	}
}

func (p *jsonParser) literal(word string, v any) (any, error) {
	if len(p.b)-p.i < len(word) || p.s[p.i:p.i+len(word)] != word {
		return nil, fmt.Errorf("json: bad literal at offset %d", p.i)
	}
	p.i += len(word)
	return v, nil
}

// number reads a number, checking the JSON grammar
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?) without converting it:
// OPA keeps numbers as their text.
func (p *jsonParser) number() (any, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	bad := func() (any, error) { return nil, fmt.Errorf("json: bad number at offset %d", start) }
	if p.b[p.i] == '-' {
		p.i++
	}
	intStart := p.i
	if n := digits(); n == 0 || (n > 1 && p.b[intStart] == '0') {
		return bad()
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return bad()
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return bad()
		}
	}
	return json.Number(p.s[start:p.i]), nil
}

// str reads a string: one without escapes is sliced from p.s, one with
// escapes or invalid UTF-8 is left to encoding/json (which turns invalid
// UTF-8 into U+FFFD).
func (p *jsonParser) str() (string, error) {
	start := p.i
	if end := bytes.IndexByte(p.b[start+1:], '"'); end >= 0 {
		seg := p.b[start+1 : start+1+end]
		if bytes.IndexByte(seg, '\\') < 0 && plain(seg) {
			p.i = start + end + 2
			return p.s[start+1 : start+1+end], nil
		}
	}
	p.i++
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '\\':
			p.i += 2
			continue
		case c == '"':
			p.i++
			var s string
			if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
				return "", err
			}
			return s, nil
		case c < 0x20:
			return "", fmt.Errorf("json: control character in string at offset %d", p.i)
		}
		p.i++
	}
	return "", errJSONEnd
}

// plain reports whether a string's bytes need no decoding: no control
// characters, valid UTF-8.
func plain(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return false
		}
	}
	return utf8.Valid(b)
}

func (p *jsonParser) object(depth int) (any, error) {
	p.i++ // {
	var obj map[string]any
	if depth == 0 {
		// Claims run at about 60 bytes of JSON per member; sizing the
		// outer map spares its growth.
		obj = make(map[string]any, len(p.b)/60)
	} else {
		obj = map[string]any{}
	}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return obj, nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, fmt.Errorf("json: want a key at offset %d", p.i)
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, fmt.Errorf("json: want ':' at offset %d", p.i)
		}
		p.i++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		obj[k] = v
		done, err := p.after('}')
		if err != nil {
			return nil, err
		}
		if done {
			return obj, nil
		}
	}
}

func (p *jsonParser) array(depth int) (any, error) {
	p.i++ // [
	elems := []any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return elems, nil
	}
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		elems = append(elems, v)
		done, err := p.after(']')
		if err != nil {
			return nil, err
		}
		if done {
			return elems, nil
		}
	}
}

// after reads what follows a member or element: ',' (more follow) or
// the closing bracket (done).
func (p *jsonParser) after(closing byte) (done bool, err error) {
	p.space()
	if p.i >= len(p.b) {
		return false, errJSONEnd
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		return false, nil
	case closing:
		p.i++
		return true, nil
	}
	return false, fmt.Errorf("json: want ',' or '%c' at offset %d", closing, p.i)
}
