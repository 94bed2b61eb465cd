package testutil_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/assay-dev/assay/internal/dcap"
)

func TestExplore(t *testing.T) {
	for _, f := range []string{"tdx/dcap-qvl/sgx-quote-v3.dat", "tdx/dcap-qvl/tdx-quote-v4.dat", "tdx/dcap-qvl/tdx-quote-v5-outdated.dat", "tdx/trustee/tdx-quote-v5-alibaba.dat", "tdx/go-tdx-guest/quote-v5-sample.dat"} {
		b, err := os.ReadFile("/work/shared/corpus/" + f)
		if err != nil {
			t.Fatal(err)
		}
		q, err := dcap.ParseQuote(b)
		if err != nil {
			t.Log(f, err)
			continue
		}
		fmt.Printf("%s len=%d raw=%d hdr=%+v body=%d\n", f, len(b), len(q.Raw()), q.Header, q.BodyType)
		qe := q.QEReport
		fmt.Printf(" QE cpusvn=%x misc=%x attr=%x mrenc=%x mrsigner=%x prod=%d svn=%d cfgsvn=%d\n authlen=%d auth=%x certtype=%d certlen=%d\n", qe.CPUSVN, qe.MiscSelect, qe.Attributes, qe.MREnclave, qe.MRSigner, qe.ISVProdID, qe.ISVSVN, qe.ConfigSVN, len(q.QEAuthData), q.QEAuthData, q.CertDataType, len(q.CertData))
		if q.TD != nil {
			fmt.Printf(" TD teetcbsvn=%x seamattr=%x tdattr=%x xfam=%x mrsignerseam=%x mrseam=%x svn2=%x\n", q.TD.TEETCBSVN, q.TD.SeamAttributes, q.TD.TDAttributes, q.TD.XFAM, q.TD.MRSignerSeam, q.TD.MRSeam, q.TD.TEETCBSVN2)
		} else {
			fmt.Printf(" SGX attr=%x misc=%x prod=%d\n", q.SGX.Attributes, q.SGX.MiscSelect, q.SGX.ISVProdID)
		}
		ch, err := q.PCKChain()
		if err == nil {
			for _, c := range ch {
				fmt.Printf("  cert %s / issuer %s serial=%x nb=%s na=%s ca=%v pathlen=%d zero=%v ku=%v ski=%x aki=%x sigalg=%v\n", c.Subject, c.Issuer, c.SerialNumber, c.NotBefore, c.NotAfter, c.IsCA, c.MaxPathLen, c.MaxPathLenZero, c.KeyUsage, c.SubjectKeyId, c.AuthorityKeyId, c.SignatureAlgorithm)
				for _, e := range c.Extensions {
					fmt.Printf("    ext %s crit=%v len=%d\n", e.Id, e.Critical, len(e.Value))
				}
				fmt.Printf("    crldp=%v\n", c.CRLDistributionPoints)
			}
			x, err := dcap.ParsePCKExtensions(ch[0])
			fmt.Printf("  pck %+v %v\n", x, err)
		}
		fmt.Printf(" tail of certdata: %q\n", q.CertData[len(q.CertData)-10:])
	}
}
