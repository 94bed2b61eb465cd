package tcg_test

import (
	"crypto"
	"errors"
	"fmt"
	"os"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// A verifier compares the log with the PCRs of a verified quote; here the
// quote's PCR 8 is taken as the log's replay with one bit changed.
func ExampleLog_Compare() {
	b, err := os.ReadFile("testdata/swtpm.bin")
	if err != nil {
		panic(err)
	}
	l, err := tcg.Parse(b)
	if err != nil {
		panic(err)
	}
	quoted := l.Replay(crypto.SHA256)
	fmt.Println(l.Compare(crypto.SHA256, quoted))

	quoted[8][0] ^= 1
	err = l.Compare(crypto.SHA256, map[int][]byte{0: quoted[0], 7: quoted[7], 8: quoted[8]})
	var me *tcg.MismatchError
	if errors.As(err, &me) {
		for _, m := range me.Mismatches {
			fmt.Printf("PCR%d mismatch; replay diverges at or after event #%d (events #%d..#%d)\n", m.PCR, m.DivergesAt, m.First, m.Last)
		}
	}
	// Output:
	// <nil>
	// PCR8 mismatch; replay diverges at or after event #27 (events #27..#101)
}

func ExampleLog_Claims() {
	b, err := os.ReadFile("testdata/swtpm.bin")
	if err != nil {
		panic(err)
	}
	l, err := tcg.Parse(b)
	if err != nil {
		panic(err)
	}
	c := l.Claims()
	fmt.Println("banks:", c.Banks, "secure boot:", *c.SecureBoot)
	for _, a := range c.BootApplications {
		fmt.Printf("PCR%d boot application %q %s\n", a.PCR, a.File, a.Digests["sha256"])
	}
	for _, k := range c.KernelCmdline {
		fmt.Printf("PCR%d kernel command line from %s, text verified %v: %s\n", k.PCR, k.Source, k.TextVerified, k.Text)
	}
	// Output:
	// banks: [sha1 sha256] secure boot: false
	// PCR4 boot application "\\EFI\\BOOT\\BOOTX64.EFI" 007f4c95125713b112093e21663e2d23e3c1ae9ce4b5de0d58a297332336a2d8
	// PCR4 boot application "" 70fd78ce1d6de8d0cc7d5ca74e2e69e03cb92762d8a19d63a61b50070d41593f
	// PCR8 kernel command line from grub, text verified true: /boot/vmlinuz-5.4.0-45-generic root=PARTUUID=78a91070-7746-4396-82b8-ffc7ba90d889 ro biosdevname=0 net.ifnames=0 console=tty1 console=ttyS0
}

func ExampleParseIMA() {
	b, err := os.ReadFile("testdata/keylime-ima.bin")
	if err != nil {
		panic(err)
	}
	l, err := tcg.ParseIMA(b)
	if err != nil {
		panic(err)
	}
	fmt.Printf("PCR10 (sha1) %x, templates ok: %v\n", l.Replay(crypto.SHA1), l.CheckTemplates() == nil)
	for _, e := range l.Claims().Entries[:2] {
		fmt.Println(e.Template, e.FileDigestAlg, e.Path)
	}
	// Output:
	// PCR10 (sha1) 3071bc1579d80e38ff478dbccdd82e95b3f669a2, templates ok: true
	// ima-sig sha256 boot_aggregate
	// ima-sig sha256 /lib/modules/5.4.48-openpower1/kernel/drivers/usb/common/usb-common.ko
}

func ExampleSniff() {
	for _, name := range []string{"swtpm.bin", "ebs_event_missing_eventlog.bin", "keylime-ima.bin", "confidential-space-cel.bin"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			panic(err)
		}
		format, _ := tcg.Sniff(b)
		ima, _ := tcg.SniffIMA(b)
		cel, _ := tcg.SniffCEL(b)
		fmt.Printf("%s: %q %q %q\n", name, format, ima, cel)
	}
	// Output:
	// swtpm.bin: "tcg-eventlog" "" ""
	// ebs_event_missing_eventlog.bin: "tcg-eventlog-sha1" "" ""
	// keylime-ima.bin: "" "ima-log" ""
	// confidential-space-cel.bin: "" "" "tcg-cel"
}

// Judging an IMA measurement list against an allow list and a signing
// key. In a verifier, judge only the entries a quoted PCR 10 binds
// (MatchPrefix); here, all of them.
func ExampleIMALog_Appraise() {
	b, err := os.ReadFile("testdata/keylime-ima.bin")
	if err != nil {
		panic(err)
	}
	l, err := tcg.ParseIMA(b)
	if err != nil {
		panic(err)
	}
	allow, err := os.ReadFile("testdata/ima-allowlist.txt")
	if err != nil {
		panic(err)
	}
	policy, err := tcg.ParseIMAPolicy(allow)
	if err != nil {
		panic(err)
	}
	pem, err := os.ReadFile("testdata/keylime-ima-rsa2048pub.pem")
	if err != nil {
		panic(err)
	}
	keys, err := tcg.ParseIMAKeys(pem, "rsa2048pub.pem")
	if err != nil {
		panic(err)
	}
	a := l.Appraise(0, tcg.IMAPCR, policy, keys)
	fmt.Printf("%s: %d judged, %d allowed, %d not listed; signatures %d valid, %d invalid, %d unsigned\n",
		policy.Format, a.Judged, a.Allowed, a.NotInAllowList, a.SignatureValid, a.SignatureInvalid, a.Unsigned)
	for _, o := range a.Offending {
		fmt.Printf("#%d %s: %s\n", o.Num, o.Path, o.Reason)
	}
	// Output:
	// ima-allowlist: 4 judged, 3 allowed, 1 not listed; signatures 1 valid, 1 invalid, 2 unsigned
	// #4 /usr/bin/zmore: signature: ima signature: no given key has ID 531f4025
	// #4 /usr/bin/zmore: not in the allow list
}
