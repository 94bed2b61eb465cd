package attest

import (
	"context"
	"crypto/x509"
	"time"
)

// Bundle is one piece of evidence and the collateral that came with it,
// already sorted by kind (certificates and CRLs parsed; anything else kept
// as bytes for the verifier to recognise).
type Bundle struct {
	// Evidence is the evidence as read.
	Evidence []byte
	// Name is where the evidence came from (a path), for messages.
	Name string
	// Format, when not empty, forces the evidence format (--format).
	Format string
	// Certificates and CRLs supplied beside the evidence.
	Certificates []*x509.Certificate
	CRLs         []*x509.RevocationList
	// Other collateral the classifier did not recognise as a certificate or
	// CRL (Intel collateral JSON, event logs, ...), by name.
	Other []NamedBlob
}

// NamedBlob is a file's bytes with its name.
type NamedBlob struct {
	Name string
	Data []byte
}

// Params are the appraisal parameters common to every evidence kind. Zero
// values fail closed or are stated in the result.
type Params struct {
	// Now is the verification time; the zero value means time.Now().
	Now time.Time
	// Nonce is the expected freshness value; nil means freshness is not
	// checked, and the result's nonce check says so.
	Nonce []byte
	// Roots replaces the built-in trust anchors when not empty.
	Roots []*x509.Certificate
}

// Verifier appraises one kind of evidence. Implementations live in
// verifier/<kind> and are listed in the registry of package verifier.
type Verifier interface {
	// Kind is the TEE name written to Result.TEE ("snp").
	Kind() string
	// Sniff reports whether b looks like evidence of this kind, and names
	// its format. It must not do crypto or I/O.
	Sniff(b []byte) (format string, ok bool)
	// Appraise verifies the bundle and returns a finished result. It never
	// returns a nil result; failures are failed checks.
	Appraise(ctx context.Context, b Bundle, p Params) *Result
}
