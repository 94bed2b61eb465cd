package bootchain

import (
	"crypto"
	"slices"
	"testing"
)

func TestGrubArgv(t *testing.T) {
	for _, tc := range []struct {
		name, cmdline string
		argv          []string
		ok            bool
	}{
		{"plain", "/vmlinuz root=/dev/sda1 ro", []string{"/vmlinuz", "root=/dev/sda1", "ro"}, true},
		// COS: an argument with spaces, as the GCP COS 113 log shows it.
		{"spaces-quoted", `/vmlinuz "dm=1 vroot none"`, []string{"/vmlinuz", "dm=1 vroot none"}, true},
		{"escaped-quote", `/vmlinuz a=\"b\"`, []string{"/vmlinuz", `a="b"`}, true},
		{"empty", "", nil, true},
		{"unbalanced", `/vmlinuz "a b`, nil, false},
		{"needless-quotes", `/vmlinuz "ab"`, nil, false},
		// grub writes an empty argument as nothing between two spaces.
		{"empty-argument", "/vmlinuz  ro", []string{"/vmlinuz", "", "ro"}, true},
		{"trailing-backslash", `/vmlinuz \`, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv, ok := grubArgv(tc.cmdline)
			if ok != tc.ok || (ok && !slices.Equal(argv, tc.argv)) {
				t.Errorf("grubArgv(%q) = %q, %v; want %q, %v", tc.cmdline, argv, ok, tc.argv, tc.ok)
			}
		})
	}
}

// FuzzGrubArgv: no panic; what grubArgv accepts, grubCmdline writes back.
func FuzzGrubArgv(f *testing.F) {
	for _, s := range []string{"/vmlinuz root=/dev/sda1 ro", `/vmlinuz "dm=1 vroot none"`, `a=\"b\"`, `"a b`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		argv, ok := grubArgv(s)
		if ok && grubCmdline(argv) != s {
			t.Fatalf("grubArgv(%q) = %q, written back as %q", s, argv, grubCmdline(argv))
		}
	})
}

func TestBankName(t *testing.T) {
	for h, want := range map[crypto.Hash]string{crypto.SHA1: "sha1", crypto.SHA256: "sha256", crypto.SHA384: "sha384", crypto.SHA512: "sha512", crypto.SHA3_256: "sha3_256"} {
		if got := bankName(h); got != want {
			t.Errorf("bankName(%v) = %q, want %q", h, got, want)
		}
	}
}
