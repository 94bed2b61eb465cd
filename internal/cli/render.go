package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/verifier"
)

// writeJSON writes each value as an indented JSON document, one after the
// other: a single result is a single object.
func writeJSON[T any](w io.Writer, vs []T) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

var statusWords = map[attest.Status]string{
	attest.StatusAffirming:       "AFFIRMING: genuine, every check passed",
	attest.StatusWarning:         "WARNING: genuine, with findings to look at",
	attest.StatusContraindicated: "CONTRAINDICATED: do not trust this evidence",
	attest.StatusNone:            "NONE: no verdict",
}

// writeText renders results for a person: verdict, checks, the claims
// that matter, and coverage.
func writeText(w io.Writer, results []*attest.Result) error {
	bw := bufio.NewWriter(w)
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(bw)
		}
		fmt.Fprintf(bw, "%s evidence %s (%s)\n", strings.ToUpper(r.TEE), r.Evidence.Files[0], r.Evidence.Format)
		fmt.Fprintf(bw, "status:      %s\n", statusWords[r.Status])
		fmt.Fprintf(bw, "verified at: %s\n", r.VerifiedAt.UTC().Format(time.RFC3339))
		fmt.Fprintln(bw, "\nchecks:")
		width := 0
		for _, c := range r.Checks {
			width = max(width, len(c.Name))
		}
		for _, c := range r.Checks {
			mark := "ok  "
			switch {
			case !c.OK:
				mark = "FAIL"
			case c.Skipped:
				mark = "skip"
			}
			fmt.Fprintf(bw, "  %s  %-*s  %s\n", mark, width, c.Name, c.Detail)
		}
		if r.Claims != nil {
			fmt.Fprintln(bw, "\nclaims:")
			if !r.Status.Trusted() {
				fmt.Fprintln(bw, "  (as the evidence states them; NOT verified)")
			}
			var zero []string
			for _, kv := range flatten(r.Claims) {
				if isZeroHex(kv[1]) {
					zero = append(zero, kv[0])
					continue
				}
				fmt.Fprintf(bw, "  %s: %s\n", kv[0], kv[1])
			}
			if len(zero) > 0 {
				fmt.Fprintf(bw, "  all zero: %s\n", strings.Join(zero, ", "))
			}
		}
		fmt.Fprintln(bw, "\nproves (when trusted):")
		for _, s := range r.Coverage.Proves {
			fmt.Fprintf(bw, "  + %s\n", s)
		}
		fmt.Fprintln(bw, "does not prove:")
		for _, s := range r.Coverage.DoesNotProve {
			fmt.Fprintf(bw, "  - %s\n", s)
		}
	}
	return bw.Flush()
}

func writeInspectText(w io.Writer, descs []verifier.Description) error {
	bw := bufio.NewWriter(w)
	for i, d := range descs {
		if i > 0 {
			fmt.Fprintln(bw)
		}
		what := string(d.Role)
		if d.TEE != "" {
			what = d.TEE + " " + what
		}
		if d.Format != "" {
			what += " (" + d.Format + ")"
		}
		fmt.Fprintf(bw, "%s: %s\n", d.File, what)
		if d.Error != "" {
			fmt.Fprintf(bw, "  error: %s\n", d.Error)
		}
		if d.Fields != nil {
			for _, kv := range flatten(d.Fields) {
				fmt.Fprintf(bw, "  %s: %s\n", kv[0], kv[1])
			}
		}
	}
	return bw.Flush()
}

// flatten turns any JSON-able value into sorted "a.b.c: value" lines.
func flatten(v any) [][2]string {
	b, err := json.Marshal(v)
	if err != nil {
		return [][2]string{{"error", err.Error()}}
	}
	// Numbers stay json.Number, so that a large integer (a millisecond
	// timestamp) prints as written, not as a float.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return [][2]string{{"error", err.Error()}}
	}
	var out [][2]string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if prefix != "" && allScalar(t) {
				// A small record (a TCB, decoded policy bits) reads best
				// on one line.
				parts := make([]string, 0, len(keys))
				for _, k := range keys {
					parts = append(parts, fmt.Sprintf("%s=%v", k, t[k]))
				}
				out = append(out, [2]string{prefix, strings.Join(parts, " ")})
				return
			}
			for _, k := range keys {
				walk(join(prefix, k), t[k])
			}
		case []any:
			if len(t) == 0 {
				out = append(out, [2]string{prefix, "[]"})
			}
			for i, e := range t {
				walk(fmt.Sprintf("%s[%d]", prefix, i), e)
			}
		case nil:
			out = append(out, [2]string{prefix, "null"})
		default:
			out = append(out, [2]string{prefix, fmt.Sprint(t)})
		}
	}
	walk("", tree)
	return out
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func allScalar(m map[string]any) bool {
	for _, v := range m {
		switch v.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return len(m) > 0
}

// isZeroHex reports whether s is a long run of hex zeros (an unused
// digest or ID), which the text output lists by name only.
func isZeroHex(s string) bool {
	return len(s) >= 16 && strings.Trim(s, "0") == ""
}
