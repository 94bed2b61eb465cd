package ccel_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/assay-dev/assay/internal/eventlog/ccel"
)

// A verifier compares the log with the RTMRs of a verified TD quote; here
// the quote's RTMR3 is taken as the log's replay with one bit changed.
func ExampleLog_Compare() {
	b, err := os.ReadFile("testdata/CCEL_AAEL_alibabacloud.bin")
	if err != nil {
		panic(err)
	}
	l, err := ccel.Parse(b)
	if err != nil {
		panic(err)
	}
	quoted := l.Replay()
	fmt.Println(l.Compare(quoted))

	quoted[3][0] ^= 1
	err = l.Compare(quoted)
	var me *ccel.MismatchError
	if errors.As(err, &me) {
		for _, m := range me.Mismatches {
			fmt.Printf("RTMR%d mismatch; replay diverges at or after event #%d (events #%d..#%d)\n", m.RTMR, m.DivergesAt, m.First, m.Last)
		}
	}
	// Output:
	// <nil>
	// RTMR3 mismatch; replay diverges at or after event #86 (events #86..#87)
}

func ExampleLog_Claims() {
	b, err := os.ReadFile("testdata/CCEL_AAEL_alibabacloud.bin")
	if err != nil {
		panic(err)
	}
	l, err := ccel.Parse(b)
	if err != nil {
		panic(err)
	}
	c := l.Claims()
	fmt.Println("secure boot:", *c.SecureBoot)
	for _, a := range c.BootApplications {
		fmt.Printf("RTMR%d boot application %s\n", a.RTMR, a.DevicePath)
	}
	for _, k := range c.KernelCmdline {
		fmt.Printf("RTMR%d kernel command line from %s, text verified %v\n", k.RTMR, k.Source, k.TextVerified)
	}
	for _, a := range c.AAEL {
		fmt.Printf("RTMR%d AAEL %s %s %s\n", a.RTMR, a.Domain, a.Operation, a.Content)
	}
	// Output:
	// secure boot: false
	// RTMR1 boot application PciRoot(0x0)/Pci(0x3,0x0)/NVMe(0x1,00-00-00-00-00-00-00-00)/HD(2,GPT,453603E1-1E48-4EA4-8C5F-31C52B72FA9F,0x1800,0x64000)/\EFI\alinux\shimx64.efi
	// RTMR1 boot application \EFI\alinux\grubx64.efi
	// RTMR2 kernel command line from grub, text verified true
	// RTMR3 AAEL coco.com some-operation some-content
	// RTMR3 AAEL coco.com some-operation {"key": "value", "nested-key": {"sub-key": "value"}}
}

func ExampleSniff() {
	for _, name := range []string{"intel-CCEL.table.bin", "intel-CCEL_unpadded.data.bin"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			panic(err)
		}
		format, _ := ccel.Sniff(b)
		fmt.Println(name, format)
	}
	// Output:
	// intel-CCEL.table.bin ccel-acpi-table
	// intel-CCEL_unpadded.data.bin ccel-log
}
