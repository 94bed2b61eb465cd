package tcg_test

import (
	"crypto"
	"encoding/hex"
	"os"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// PCRs of the event log seeds in testdata (see testdata/README.md):
// swtpm.bin's are what tpm2_eventlog (tpm2-tools 5.5) computed, from the
// YAML the galmasi repository ships beside it; the two SHA-1-format
// logs' are the corpus builder's replay (manifest.json,
// replayed_by_builder), which TestCorpusReplay also checks.
var seedPCRs = map[string]map[crypto.Hash]map[int]string{
	"swtpm.bin": {
		crypto.SHA1: {
			0: "74c8f4bec7f58dea3941ce46e688440cce91cf5c",
			1: "293a334523288b61943f3101008ad5ca1f56e127",
			2: "64bdfedc3a257a7dbc5bf9e94692ec6033f1dc76",
			3: "b2a83b0ebf2f8374299a5b2bdfc31ea955ad7236",
			4: "13f0dcc5114f14c3df03cf437d7181f256e07a01",
			5: "461d7b57e3c62d7a2cda4e4acdec3908c866432e",
			6: "b2a83b0ebf2f8374299a5b2bdfc31ea955ad7236",
			7: "518bd167271fbb64589c61e43d8c0165861431d8",
			8: "43aaff1eb3b4ec57d1a5c1427f6ae4748fe40cd8",
			9: "f1ec9df00222a772a04fa20afbd7e707ac3ad677",
		},
		crypto.SHA256: {
			0: "804c3cb76b471627372c8e5ebd068d1f8f8af088af43dc9de620af652f11116f",
			1: "61137129a04703282cd3a002a6cd3694e09c68115cbe1e11f4efa892685648d9",
			2: "6bb89e2dc338e478b9b58d7c987c67fd2b09435be88195decc1e6ecf6e719d8e",
			3: "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969",
			4: "a01755784426c92d1d22a4305319644855ba0204dcc46ed920d74473defffe42",
			5: "8017b57031d6bb5a8e830949ca3c04bcaafe196d6de802697c9fb0acb38f2dac",
			6: "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969",
			7: "65caf8dd1e0ea7a6347b635d2b379c93b9a1351edc2afc3ecda700e534eb3068",
			8: "f5ce9866af7ad692ed3afe642b65992d6f5d93389ddb119b49eef3a9fe54a1c1",
			9: "d734aa05ed0dfe770bcf88e0ff26113bb3aab42e2e8b8f287aa84aee86acefa1",
		},
	},
	"ebs_event_missing_eventlog.bin": {
		crypto.SHA1: {
			0: "b4766c154feaacaefd61b48c661fc1c294762f4c",
			1: "387ce86429dabb3cefb5c0c87972021119537db3",
			2: "b2a83b0ebf2f8374299a5b2bdfc31ea955ad7236",
			3: "b2a83b0ebf2f8374299a5b2bdfc31ea955ad7236",
			4: "7eefb9fd15e088587a0c50e2ecfb2b301e963dc2",
			5: "e5781a2fd49c23a33b16bf0ba5f10efa1aa5d43c",
			6: "b2a83b0ebf2f8374299a5b2bdfc31ea955ad7236",
			7: "c6b89634b1d11a0083298c17acec8fd9ab266db6",
		},
	},
	"short_no_action_eventlog.bin": {
		// Only a StartupLocality event (locality 3): PCR 0 starts at 3.
		crypto.SHA1: {0: "0000000000000000000000000000000000000003"},
	},
}

// seed returns a seed log and its PCR values.
func seed(t testing.TB, name string) ([]byte, bankValues) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	want := bankValues{}
	for bank, pcrs := range seedPCRs[name] {
		want[bank] = map[int][]byte{}
		for p, h := range pcrs {
			v, err := hex.DecodeString(h)
			if err != nil {
				t.Fatal(err)
			}
			want[bank][p] = v
		}
	}
	return b, want
}

func TestSeedPCRs(t *testing.T) {
	for name := range seedPCRs {
		b, want := seed(t, name)
		l, err := tcg.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for bank, pcrs := range want {
			if err := l.Compare(bank, pcrs); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			if got := l.Replay(bank); len(got) != len(pcrs) {
				t.Errorf("%s: Replay(%s) has %d PCRs, want %d", name, tcg.HashName(bank), len(got), len(pcrs))
			}
		}
	}
}
