package server

import (
	"bufio"
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPICoversRoutes holds the checked-in OpenAPI description to the
// routes the server registers: every route is described, and nothing is
// described that the server does not serve.
func TestOpenAPICoversRoutes(t *testing.T) {
	var served []string
	for _, r := range (&Server{}).routes() {
		served = append(served, r.pattern)
	}
	served = append(served, "GET /metrics")
	pathRE := regexp.MustCompile(`^  (/\S*):\s*$`)
	methodRE := regexp.MustCompile(`^    (get|put|post|delete|patch):`)
	var described []string
	path := ""
	sc := bufio.NewScanner(bytes.NewReader(openapiSpec))
	inPaths := false
	for sc.Scan() {
		line := sc.Text()
		if line == "paths:" {
			inPaths = true
			continue
		}
		if !inPaths {
			continue
		}
		if m := pathRE.FindStringSubmatch(line); m != nil {
			path = m[1]
			continue
		}
		if m := methodRE.FindStringSubmatch(line); m != nil && path != "" {
			described = append(described, strings.ToUpper(m[1])+" "+path)
		}
	}
	slices.Sort(served)
	slices.Sort(described)
	for _, r := range served {
		if !slices.Contains(described, r) {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for _, d := range described {
		if !slices.Contains(served, d) {
			t.Errorf("openapi.yaml describes %s, which the server does not serve", d)
		}
	}
}
