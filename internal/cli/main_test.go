package cli_test

import (
	"os"
	"testing"
)

// TestMain points the default collateral cache at an empty temporary
// directory: offline runs read the cache, and a developer's own cache
// must not change what the golden files say.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "assay-cli-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
