package cli

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/assay-dev/assay/verifier/tpm"
)

// The files of a credential challenge (docs/tpm.md, "Credential
// activation").
const (
	// challengeFile is the challenge in tpm2_makecredential's output
	// format, for tpm2_activatecredential -i.
	challengeFile = "cred.out"
	// secretFile is what the verifier keeps: the issued secret and what it
	// was bound to. 0600: whoever reads it can answer the challenge.
	secretFile = "challenge-secret.json"
)

// credentialSecretSize is the issued secret: a SHA-256-sized TPM2B_DIGEST,
// the largest the default EK templates' nameAlg allows.
const credentialSecretSize = 32

// challengeRecord is secretFile: the verifier's side of one challenge.
type challengeRecord struct {
	Version  int    `json:"version"`
	Secret   string `json:"secret"`    // hex; never printed
	AKName   string `json:"ak_name"`   // hex TPM2B_NAME.name of the AK
	EKSHA256 string `json:"ek_sha256"` // hex SHA-256 of the EK's SubjectPublicKeyInfo
	// EKCertificate names the EK certificate the EK came from, if any:
	// its chain to a TPM manufacturer is not verified in this version.
	EKCertificate string `json:"ek_certificate,omitempty"`
	IssuedAt      string `json:"issued_at"`
}

const tpmUsage = `usage: assay tpm <command> [flags]

commands:
  challenge       make a credential-activation challenge (TPM2_MakeCredential)
                  for an AK against an EK
  activate-check  check the secret the attester recovered with
                  tpm2_activatecredential and write an enrolment record

exit status: 0 done, 1 rejected (activation failed, unsuitable AK or EK), 2 usage error
docs/tpm.md ("Credential activation") has the protocol
`

func runTPM(args []string, stdout, stderr io.Writer, now func() time.Time) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, tpmUsage)
		return ExitUsage
	}
	switch args[0] {
	case "challenge":
		return runTPMChallenge(args[1:], stdout, stderr, now)
	case "activate-check":
		return runTPMActivateCheck(args[1:], stdout, stderr, now)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, tpmUsage)
		return 0
	}
	fmt.Fprintf(stderr, "assay tpm: unknown command %q\n\n%s", args[0], tpmUsage)
	return ExitUsage
}

func runTPMChallenge(args []string, stdout, stderr io.Writer, now func() time.Time) int {
	fs := flag.NewFlagSet("assay tpm challenge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ekPath := fs.String("ek", "", "EK certificate (PEM or DER), TPM2B_PUBLIC, PEM public key, or an evidence file of assay attest tpm: RSA 2048 or 3072, ECC P-256 or P-384")
	akPath := fs.String("ak", "", "AK public as TPM2B_PUBLIC (tpm2_createak -u), or an evidence file of assay attest tpm: its Name binds the challenge")
	dir := fs.String("o", ".", "directory for "+challengeFile+" (to the attester) and "+secretFile+" (kept, mode 0600)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: assay tpm challenge --ek EK --ak AKPUB [-o DIR]")
		fs.PrintDefaults()
	}
	if code, ok := parseTPMFlags(fs, args); !ok {
		return code
	}
	if *ekPath == "" || *akPath == "" {
		fmt.Fprintln(stderr, "assay tpm challenge: --ek and --ak are required")
		return ExitUsage
	}
	ekb, err := readFile(*ekPath)
	if err != nil {
		fmt.Fprintf(stderr, "assay tpm challenge: %v\n", err)
		return ExitUsage
	}
	akb, err := readFile(*akPath)
	if err != nil {
		fmt.Fprintf(stderr, "assay tpm challenge: %v\n", err)
		return ExitUsage
	}
	ekb, akb = fromEvidenceFile(ekb, "ek"), fromEvidenceFile(akb, "ak")
	ek, err := tpm.ParseEK(ekb)
	if err != nil {
		fmt.Fprintf(stderr, "assay tpm challenge: --ek %s: %v\n", *ekPath, err)
		return ExitRejected
	}
	ak, err := tpm.ParseAKPublic(akb)
	if err == nil {
		err = tpm.CheckActivationAK(ak)
	}
	if err != nil {
		fmt.Fprintf(stderr, "assay tpm challenge: --ak %s: %v\n", *akPath, err)
		return ExitRejected
	}
	secret := make([]byte, credentialSecretSize)
	if _, err := rand.Read(secret); err != nil {
		fmt.Fprintf(stderr, "assay tpm challenge: %v\n", err)
		return ExitRejected
	}
	blob, enc, err := tpm.MakeCredentialPublic(ek.Public, ak.Name, secret)
	if err != nil {
		fmt.Fprintf(stderr, "assay tpm challenge: %v\n", err)
		return ExitRejected
	}
	rec := challengeRecord{Version: 1, Secret: hex.EncodeToString(secret), AKName: hex.EncodeToString(ak.Name),
		EKSHA256: hex.EncodeToString(ek.SHA256()), IssuedAt: now().UTC().Format(time.RFC3339)}
	if ek.Cert != nil {
		rec.EKCertificate = fmt.Sprintf("subject %q, issuer %q, serial %#x", ek.Cert.Subject.String(), ek.Cert.Issuer.String(), ek.Cert.SerialNumber)
	}
	recb, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "assay tpm challenge: %v\n", err)
		return ExitRejected
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "assay tpm challenge: %v\n", err)
		return ExitUsage
	}
	sp, cp := filepath.Join(*dir, secretFile), filepath.Join(*dir, challengeFile)
	if err := writePrivate(sp, append(recb, '\n')); err != nil {
		fmt.Fprintf(stderr, "assay tpm challenge: %v\n", err)
		return ExitUsage
	}
	if err := os.WriteFile(cp, tpm.MarshalCredentialFile(blob, enc), 0o644); err != nil {
		fmt.Fprintf(stderr, "assay tpm challenge: %v\n", err)
		return ExitUsage
	}
	fmt.Fprintf(stdout, "challenge for AK %s against EK sha256:%s\n", rec.AKName, rec.EKSHA256)
	fmt.Fprintf(stdout, "  %s: send to the attester (tpm2_activatecredential -i %s -o actcred.out)\n", cp, challengeFile)
	fmt.Fprintf(stdout, "  %s: keep (mode 0600); then: assay tpm activate-check --secret %s --response actcred.out --ak %s -o enrolled-ak.pem\n", sp, sp, *akPath)
	if ek.Cert != nil {
		fmt.Fprintf(stdout, "  the EK certificate's chain to a TPM manufacturer is not verified: %s\n", rec.EKCertificate)
	}
	return 0
}

// writePrivate writes a file only its owner can read, whatever the umask
// and whatever the mode of a file it replaces.
func writePrivate(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func runTPMActivateCheck(args []string, stdout, stderr io.Writer, now func() time.Time) int {
	fs := flag.NewFlagSet("assay tpm activate-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secretPath := fs.String("secret", "", secretFile+" written by assay tpm challenge")
	respPath := fs.String("response", "", "the secret the attester recovered (tpm2_activatecredential -o), raw bytes")
	akPath := fs.String("ak", "", "AK public as TPM2B_PUBLIC, or the evidence file: the one the challenge was made for")
	out := fs.String("o", "", "enrolment record to write (PEM), for assay verify --enrolled-ak")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: assay tpm activate-check --secret FILE --response FILE --ak AKPUB -o enrolled-ak.pem")
		fs.PrintDefaults()
	}
	if code, ok := parseTPMFlags(fs, args); !ok {
		return code
	}
	if *secretPath == "" || *respPath == "" || *akPath == "" || *out == "" {
		fmt.Fprintln(stderr, "assay tpm activate-check: --secret, --response, --ak and -o are required")
		return ExitUsage
	}
	var files [3][]byte
	for i, p := range []string{*secretPath, *respPath, *akPath} {
		b, err := readFile(p)
		if err != nil {
			fmt.Fprintf(stderr, "assay tpm activate-check: %v\n", err)
			return ExitUsage
		}
		files[i] = b
	}
	var rec challengeRecord
	if err := json.Unmarshal(files[0], &rec); err != nil || rec.Version != 1 {
		fmt.Fprintf(stderr, "assay tpm activate-check: --secret %s is not a challenge record of assay tpm challenge\n", *secretPath)
		return ExitUsage
	}
	secret, err1 := hex.DecodeString(rec.Secret)
	akName, err2 := hex.DecodeString(rec.AKName)
	ekSum, err3 := hex.DecodeString(rec.EKSHA256)
	if err := errors.Join(err1, err2, err3); err != nil || len(secret) == 0 || len(ekSum) != 32 {
		fmt.Fprintf(stderr, "assay tpm activate-check: --secret %s: malformed challenge record\n", *secretPath)
		return ExitUsage
	}
	ak, err := tpm.ParseAKPublic(fromEvidenceFile(files[2], "ak"))
	if err == nil {
		err = tpm.CheckActivationAK(ak)
	}
	if err != nil {
		fmt.Fprintf(stderr, "assay tpm activate-check: --ak %s: %v\n", *akPath, err)
		return ExitRejected
	}
	if hex.EncodeToString(ak.Name) != hex.EncodeToString(akName) {
		fmt.Fprintf(stderr, "assay tpm activate-check: the AK's name is %x, the challenge was made for %x\n", ak.Name, akName)
		return ExitRejected
	}
	if err := tpm.CheckActivation(secret, files[1]); err != nil {
		fmt.Fprintf(stderr, "assay tpm activate-check: %v: the AK is not shown to be in the EK's TPM\n", err)
		return ExitRejected
	}
	rb, err := tpm.MarshalEnrollment(&tpm.Enrollment{AK: ak, EKSHA256: ekSum, ActivatedAt: now().UTC()})
	if err != nil {
		fmt.Fprintf(stderr, "assay tpm activate-check: %v\n", err)
		return ExitRejected
	}
	if err := os.WriteFile(*out, rb, 0o644); err != nil {
		fmt.Fprintf(stderr, "assay tpm activate-check: %v\n", err)
		return ExitUsage
	}
	fmt.Fprintf(stdout, "AK %x activated against EK sha256:%s; enrolment written to %s\n", ak.Name, rec.EKSHA256, *out)
	return 0
}

// fromEvidenceFile returns, for an evidence file of assay attest tpm,
// its EK ("ek": ek_public, else the first EK certificate) or AK ("ak":
// ak_public); other input as it is.
func fromEvidenceFile(b []byte, which string) []byte {
	if f, ok := tpm.SniffEvidence(b); !ok || f != tpm.FormatEvidenceFile {
		return b
	}
	ef, _, err := tpm.ParseEvidenceFile(b)
	switch {
	case err != nil:
		return b // the parse error shows when b is read as a key
	case which == "ak":
		return ef.AKPublic
	case len(ef.EKPublic) > 0:
		return ef.EKPublic
	case len(ef.EKCertificates) > 0:
		return ef.EKCertificates[0]
	}
	return b
}

// parseTPMFlags parses flags that take no positional arguments; ok is
// false when the command must exit with code.
func parseTPMFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return ExitUsage, false
	}
	if len(rest) > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), rest[0])
		return ExitUsage, false
	}
	return 0, true
}

func readEnrolled(paths []string) ([]tpm.Enrollment, error) {
	var out []tpm.Enrollment
	for _, p := range paths {
		b, err := readFile(p)
		if err != nil {
			return nil, err
		}
		es, err := tpm.ParseEnrollments(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, es...)
	}
	return out, nil
}
