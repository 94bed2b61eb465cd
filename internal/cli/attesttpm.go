package cli

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/attester"
	"github.com/assay-dev/assay/verifier/tpm"
)

const attestTPMUsage = `usage: assay attest tpm --nonce HEX [flags] [-o evidence.json]
       assay attest tpm --activate cred.out [-o actcred.out]

Gathers the EK (certificate from NV), the AK (created and persisted if
absent), a quote of the PCRs over the nonce, the PCR values and the logs
into one evidence file for assay verify; with --activate, answers a
challenge of assay tpm challenge with the same EK and AK and writes the
recovered secret for assay tpm activate-check. docs/tpm.md has the details.
`

func runAttestTPM(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("assay attest tpm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dev := fs.String("tpm", "/dev/tpmrm0", "the TPM: a device, or swtpm:HOST:PORT for swtpm's TCP server port")
	nonceHex := fs.String("nonce", "", "the verifier's nonce, hex, 1 to 64 bytes: the quote's qualifying data")
	pcrList := fs.String("pcrs", "", "PCRs to quote, e.g. 0-7,10; default 0-7, and 8-10 when an IMA log is read")
	bankList := fs.String("banks", "sha256", "PCR banks to quote: sha1, sha256, sha384, comma separated")
	ecc := fs.Bool("ecc", false, "use the ECC P-256 EK (template L-2, handle 0x81010002, certificate NV 0x01c0000a) instead of the RSA 2048 one")
	ekHandle := fs.String("ek-handle", "", "persistent EK handle; default 0x81010001 (RSA) or 0x81010002 (ECC)")
	akHandle := fs.String("ak-handle", "", "persistent AK handle; default 0x81010003")
	eventLog := fs.String("eventlog", "auto", "firmware event log file, or none; auto: "+attester.DefaultEventLog+" when the TPM is a device and it exists")
	imaLog := fs.String("ima-log", "auto", "IMA measurement list, or none; auto: "+attester.DefaultIMALog+" when the TPM is a device and it exists")
	akCert := fs.String("ak-cert", "", "a certificate of the AK (PEM or DER) to include; for an IAK, its IAK certificate")
	idevidHandle := fs.String("idevid-handle", "", "a persisted IDevID key for the AK (an IAK, --ak-handle) to certify with TPM2_Certify")
	idevidCert := fs.String("idevid-cert", "", "the IDevID certificate (PEM or DER) to include")
	activate := fs.String("activate", "", "answer this credential challenge (cred.out of assay tpm challenge) instead of attesting")
	out := fs.String("o", "", "output file; default evidence.json, or actcred.out with --activate; - is standard output")
	fs.Usage = func() {
		fmt.Fprint(stderr, attestTPMUsage)
		fs.PrintDefaults()
	}
	if code, ok := parseTPMFlags(fs, args); !ok {
		return code
	}
	var g attester.TPMGather
	g.ECC = *ecc
	var problems []error
	for _, h := range []struct {
		flag string
		val  string
		dst  *tpm2.TPMHandle
	}{{"--ek-handle", *ekHandle, &g.EKHandle}, {"--ak-handle", *akHandle, &g.AKHandle}, {"--idevid-handle", *idevidHandle, &g.IDevIDHandle}} {
		if h.val == "" {
			continue
		}
		v, err := strconv.ParseUint(h.val, 0, 32)
		if err != nil || v>>24 != 0x81 {
			problems = append(problems, fmt.Errorf("%s %q: want a persistent handle 0x81xxxxxx", h.flag, h.val))
			continue
		}
		*h.dst = tpm2.TPMHandle(v)
	}
	if *activate != "" {
		if *nonceHex != "" {
			problems = append(problems, errors.New("--activate and --nonce are alternatives"))
		}
		if err := errors.Join(problems...); err != nil {
			fmt.Fprintf(stderr, "assay attest tpm: %v\n", err)
			return ExitUsage
		}
		return attestTPMActivate(ctx, g, *dev, *activate, *out, stdout, stderr)
	}
	nonce, err := hex.DecodeString(strings.TrimPrefix(*nonceHex, "0x"))
	switch {
	case *nonceHex == "":
		problems = append(problems, errors.New("--nonce is required: a quote without the verifier's nonce can be replayed"))
	case err != nil:
		problems = append(problems, fmt.Errorf("--nonce is not hex: %v", err))
	case len(nonce) > 64:
		problems = append(problems, fmt.Errorf("--nonce is %d bytes; a quote takes at most 64", len(nonce)))
	}
	if *pcrList != "" {
		if g.PCRs, err = parsePCRList(*pcrList); err != nil {
			problems = append(problems, err)
		}
	}
	for _, b := range strings.Split(*bankList, ",") {
		alg, ok := map[string]tpm2.TPMAlgID{"sha1": tpm2.TPMAlgSHA1, "sha256": tpm2.TPMAlgSHA256, "sha384": tpm2.TPMAlgSHA384}[strings.TrimSpace(b)]
		if !ok {
			problems = append(problems, fmt.Errorf("--banks: %q, want sha1, sha256 or sha384", b))
			continue
		}
		g.Banks = append(g.Banks, alg)
	}
	isDevice := !strings.HasPrefix(*dev, attester.SWTPMPrefix)
	g.EventLog = logPath(*eventLog, attester.DefaultEventLog, isDevice)
	g.IMALog = logPath(*imaLog, attester.DefaultIMALog, isDevice)
	for _, c := range []struct {
		flag, path string
		dst        *[]byte
	}{{"--ak-cert", *akCert, &g.AKCertificate}, {"--idevid-cert", *idevidCert, &g.IDevIDCertificate}} {
		if c.path == "" {
			continue
		}
		b, err := readFile(c.path)
		if err == nil {
			*c.dst, err = certDER(b)
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", c.flag, err))
		}
	}
	if *idevidCert != "" && *idevidHandle == "" {
		problems = append(problems, errors.New("--idevid-cert needs --idevid-handle"))
	}
	if err := errors.Join(problems...); err != nil {
		fmt.Fprintf(stderr, "assay attest tpm: %v\n", err)
		return ExitUsage
	}
	tp, err := attester.OpenTPM(ctx, *dev)
	if err != nil {
		fmt.Fprintf(stderr, "assay attest tpm: %v\n", err)
		return ExitRejected
	}
	defer tp.Close()
	f, err := g.Gather(ctx, tp, nonce)
	if err != nil {
		fmt.Fprintf(stderr, "assay attest tpm: %v\n", err)
		return ExitRejected
	}
	b, err := tpm.MarshalEvidenceFile(f)
	if err != nil {
		fmt.Fprintf(stderr, "assay attest tpm: %v\n", err)
		return ExitRejected
	}
	path := *out
	if path == "" {
		path = "evidence.json"
	}
	if err := writeOut(path, b, 0o644, stdout); err != nil {
		fmt.Fprintf(stderr, "assay attest tpm: %v\n", err)
		return ExitUsage
	}
	if path != "-" {
		fmt.Fprintf(stdout, "TPM evidence written to %s: AK at %s, EK at %s, %d EK certificate(s), event log %d bytes, IMA log %d bytes\n",
			path, f.Handles.AK, f.Handles.EK, len(f.EKCertificates), len(f.EventLog), len(f.IMALog))
	}
	return 0
}

func attestTPMActivate(ctx context.Context, g attester.TPMGather, dev, credPath, out string, stdout, stderr io.Writer) int {
	cred, err := readFile(credPath)
	if err != nil {
		fmt.Fprintf(stderr, "assay attest tpm: %v\n", err)
		return ExitUsage
	}
	tp, err := attester.OpenTPM(ctx, dev)
	if err != nil {
		fmt.Fprintf(stderr, "assay attest tpm: %v\n", err)
		return ExitRejected
	}
	defer tp.Close()
	secret, err := g.ActivateCredential(ctx, tp, cred)
	if err != nil {
		fmt.Fprintf(stderr, "assay attest tpm: --activate %s: %v\n", credPath, err)
		return ExitRejected
	}
	if out == "" {
		out = "actcred.out"
	}
	if err := writeOut(out, secret, 0o600, stdout); err != nil {
		fmt.Fprintf(stderr, "assay attest tpm: %v\n", err)
		return ExitUsage
	}
	if out != "-" {
		fmt.Fprintf(stdout, "credential activated; the recovered secret is in %s (for assay tpm activate-check --response)\n", out)
	}
	return 0
}

// writeOut writes b to path, or to stdout for "-".
func writeOut(path string, b []byte, mode os.FileMode, stdout io.Writer) error {
	if path == "-" {
		_, err := stdout.Write(b)
		return err
	}
	if mode == 0o600 {
		return writePrivate(path, b)
	}
	return os.WriteFile(path, b, mode)
}

// logPath resolves --eventlog / --ima-log: "none", a path, or "auto" (the
// default path for a device TPM, when it exists; a simulator's PCRs are
// not this machine's, so none for it).
func logPath(flagVal, def string, isDevice bool) string {
	switch flagVal {
	case "none", "":
		return ""
	case "auto":
		if _, err := os.Stat(def); err == nil && isDevice {
			return def
		}
		return ""
	}
	return flagVal
}

// parsePCRList reads "0-7,10" as PCR indices 0-23.
func parsePCRList(s string) ([]uint, error) {
	var out []uint
	seen := map[uint]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err1 := strconv.ParseUint(lo, 10, 8)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 8)
		}
		if err1 != nil || err2 != nil || a > 23 || b > 23 || b < a {
			return nil, fmt.Errorf("--pcrs: %q, want indices 0-23 like 0-7,10", part)
		}
		for i := a; i <= b; i++ {
			if !seen[uint(i)] {
				seen[uint(i)] = true
				out = append(out, uint(i))
			}
		}
	}
	return out, nil
}

// certDER returns the first certificate of a PEM file, or DER as given.
func certDER(b []byte) ([]byte, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q, want CERTIFICATE", blk.Type)
		}
		b = blk.Bytes
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		return nil, err
	}
	return c.Raw, nil
}
