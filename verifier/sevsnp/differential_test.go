package sevsnp_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/go-sev-guest/abi"

	"github.com/assay-dev/assay/verifier/sevsnp"
)

// TestDifferentialGoSevGuest parses every raw corpus report with
// go-sev-guest's abi package as an independent oracle: the two parsers
// must agree on every field, and go-sev-guest's encoding of its parse must
// equal ours byte for byte.
func TestDifferentialGoSevGuest(t *testing.T) {
	n := 0
	for _, c := range snpCorpus(t) {
		for _, path := range c.reports {
			if !strings.HasSuffix(path, ".bin") {
				continue
			}
			n++
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := sevsnp.Parse(raw)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			theirs, err := abi.ReportToProto(raw)
			if err != nil {
				t.Fatalf("%s: go-sev-guest: %v", path, err)
			}
			type pair struct {
				name      string
				got, want any
			}
			pairs := []pair{
				{"version", ours.Version, theirs.Version},
				{"guest_svn", ours.GuestSVN, theirs.GuestSvn},
				{"policy", ours.Policy, theirs.Policy},
				{"vmpl", ours.VMPL, theirs.Vmpl},
				{"signature_algo", ours.SignatureAlgo, theirs.SignatureAlgo},
				{"current_tcb", ours.CurrentTCB, theirs.CurrentTcb},
				{"platform_info", ours.PlatformInfo, theirs.PlatformInfo},
				{"key_info", ours.KeyInfo, theirs.SignerInfo},
				{"reported_tcb", ours.ReportedTCB, theirs.ReportedTcb},
				{"committed_tcb", ours.CommittedTCB, theirs.CommittedTcb},
				{"launch_tcb", ours.LaunchTCB, theirs.LaunchTcb},
				{"current_build", uint32(ours.CurrentBuild), theirs.CurrentBuild},
				{"current_minor", uint32(ours.CurrentMinor), theirs.CurrentMinor},
				{"current_major", uint32(ours.CurrentMajor), theirs.CurrentMajor},
				{"committed_build", uint32(ours.CommittedBuild), theirs.CommittedBuild},
				{"committed_minor", uint32(ours.CommittedMinor), theirs.CommittedMinor},
				{"committed_major", uint32(ours.CommittedMajor), theirs.CommittedMajor},
			}
			for _, b := range []struct {
				name      string
				got, want []byte
			}{
				{"family_id", ours.FamilyID[:], theirs.FamilyId},
				{"image_id", ours.ImageID[:], theirs.ImageId},
				{"report_data", ours.ReportData[:], theirs.ReportData},
				{"measurement", ours.Measurement[:], theirs.Measurement},
				{"host_data", ours.HostData[:], theirs.HostData},
				{"id_key_digest", ours.IDKeyDigest[:], theirs.IdKeyDigest},
				{"author_key_digest", ours.AuthorKeyDigest[:], theirs.AuthorKeyDigest},
				{"report_id", ours.ReportID[:], theirs.ReportId},
				{"report_id_ma", ours.ReportIDMA[:], theirs.ReportIdMa},
				{"chip_id", ours.ChipID[:], theirs.ChipId},
			} {
				if !bytes.Equal(b.got, b.want) {
					t.Errorf("%s: %s = %x, go-sev-guest %x", path, b.name, b.got, b.want)
				}
			}
			for _, p := range pairs {
				if p.got != p.want {
					t.Errorf("%s: %s = %v, go-sev-guest %v", path, p.name, p.got, p.want)
				}
			}
			if ours.Version >= 3 {
				fam, mod, step := abi.FmsFromCpuid1Eax(theirs.Cpuid1EaxFms)
				if fam != ours.CPUIDFamID || mod != ours.CPUIDModID || step != ours.CPUIDStep {
					t.Errorf("%s: CPUID %x/%x/%x, go-sev-guest %x/%x/%x", path, ours.CPUIDFamID, ours.CPUIDModID, ours.CPUIDStep, fam, mod, step)
				}
			}
			enc, err := abi.ReportToAbiBytes(theirs)
			if err != nil {
				t.Fatalf("%s: go-sev-guest encode: %v", path, err)
			}
			if !bytes.Equal(enc, ours.Marshal()) || !bytes.Equal(raw, ours.Marshal()) {
				t.Errorf("%s: encodings differ (ours == raw: %v, go-sev-guest == raw: %v)", path, bytes.Equal(raw, ours.Marshal()), bytes.Equal(enc, raw))
			}
		}
	}
	if n < 11 {
		t.Errorf("compared %d raw reports, want at least 11", n)
	}
}
