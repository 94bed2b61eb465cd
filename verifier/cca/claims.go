package cca

import (
	"encoding/hex"

	ccaplatform "github.com/veraison/ccatoken/platform"
)

// Claims of a CCA token: the realm token's and the platform token's claims
// (RMM specification DEN0137 1.0-rel0, A7.2.3.1 and A7.2.3.2), in snake_case after
// the spec's claim names, bytes as lowercase hex.
type Claims struct {
	Realm    RealmClaims    `json:"realm"`
	Platform PlatformClaims `json:"platform"`
	// RealHardware is true only when the CPAK is endorsed by a known
	// silicon vendor's root. No such root is built in, and the supplied
	// endorsements (keys, stores, CoRIMs) say nothing about silicon, so it
	// is always null: unknown.
	RealHardware *bool `json:"real_hardware"`
	// CPAK names the endorsement whose key verified the platform token;
	// set only by a successful Verify.
	CPAK *CPAKClaims `json:"cpak,omitempty"`
}

// RealmClaims are the realm token's claims (RMM A7.2.3.1).
type RealmClaims struct {
	// Profile is the eat_profile claim (265), null for tokens of the
	// profile without one (RMM 1.0 EAC5).
	Profile *string `json:"profile"`
	// Challenge: realm challenge claim (10), 64 bytes the realm chose.
	Challenge string `json:"challenge"`
	// PersonalizationValue: realm personalization value claim (44235).
	PersonalizationValue string `json:"personalization_value"`
	// InitialMeasurement: RIM, realm initial measurement claim (44238).
	InitialMeasurement string `json:"initial_measurement"`
	// ExtensibleMeasurements: REM[0..3] (44239).
	ExtensibleMeasurements []string `json:"extensible_measurements"`
	// HashAlgoID: realm hash algorithm claim (44236), of RIM and REMs.
	HashAlgoID string `json:"hash_algo_id"`
	// PublicKey: realm public key claim (44237), the RAK: a raw P-384
	// point, or a COSE_Key under the 2023 realm profile.
	PublicKey string `json:"public_key"`
	// PublicKeyHashAlgoID: realm public key hash algorithm claim (44240),
	// the hash of the RAK that the platform challenge carries.
	PublicKeyHashAlgoID string `json:"public_key_hash_algo_id"`
}

// PlatformClaims are the CCA platform token's claims (RMM A7.2.3.2).
type PlatformClaims struct {
	// Profile: eat_profile claim (265).
	Profile string `json:"profile"`
	// Challenge: platform challenge claim (10), the hash of the RAK.
	Challenge string `json:"challenge"`
	// ImplementationID: platform implementation ID claim (2396).
	ImplementationID string `json:"implementation_id"`
	// InstanceID: platform instance ID claim (256), a UEID naming the CPAK.
	InstanceID string `json:"instance_id"`
	// Config: platform config claim (2401).
	Config string `json:"config"`
	// Lifecycle: platform security lifecycle claim (2395), and the state
	// its range names (PSA: 0x3000-0x30ff is "secured").
	Lifecycle      uint16 `json:"lifecycle"`
	LifecycleState string `json:"lifecycle_state"`
	// SWComponents: platform software components claim (2399).
	SWComponents []SWComponent `json:"sw_components"`
	// VerificationService: platform verification service claim (2400).
	VerificationService string `json:"verification_service,omitempty"`
	// HashAlgoID: platform hash algorithm claim (2402).
	HashAlgoID string `json:"hash_algo_id"`
}

// SWComponent is one measured platform software component (RMM
// A7.2.3.2, cca-platform-sw-component, after the PSA token's).
type SWComponent struct {
	MeasurementType  string `json:"measurement_type,omitempty"` // component type (1)
	MeasurementValue string `json:"measurement_value"`          // (2)
	Version          string `json:"version,omitempty"`          // (4)
	SignerID         string `json:"signer_id"`                  // (5)
	HashAlgoID       string `json:"hash_algo_id,omitempty"`     // measurement description (6)
}

// CPAKClaims describe the endorsement that verified the platform token.
type CPAKClaims struct {
	// Source is the file, Format its format (cca-cpak-pem, ...).
	Source string `json:"source"`
	Format string `json:"format"`
	// Curve and SPKISHA256 (SHA-256 of the DER SubjectPublicKeyInfo)
	// identify the key.
	Curve      string `json:"curve"`
	SPKISHA256 string `json:"spki_sha256"`
	// CoRIMSigner is the signer a signed CoRIM names (corim-meta's
	// signer-name, or the CWT issuer), whose signature verified with a
	// supplied key; empty for other sources.
	CoRIMSigner string `json:"corim_signer,omitempty"`
}

// NewClaims decodes the token's claims, as the token states them: Verify
// says whether to believe them. A Token not made by Parse has none to
// decode, and gets empty claims.
func NewClaims(t *Token) *Claims {
	c := &Claims{}
	if !t.parsed() {
		return c
	}
	h := hex.EncodeToString
	r, p := t.realm, t.platform

	if prof, err := r.GetProfile(); err == nil {
		c.Realm.Profile = &prof
	}
	c.Realm.Challenge = h(must(r.GetChallenge()))
	c.Realm.PersonalizationValue = h(must(r.GetPersonalizationValue()))
	c.Realm.InitialMeasurement = h(must(r.GetInitialMeasurement()))
	c.Realm.ExtensibleMeasurements = []string{}
	for _, m := range must(r.GetExtensibleMeasurements()) {
		c.Realm.ExtensibleMeasurements = append(c.Realm.ExtensibleMeasurements, h(m))
	}
	c.Realm.HashAlgoID = must(r.GetHashAlgID())
	c.Realm.PublicKey = h(must(r.GetPubKey()))
	c.Realm.PublicKeyHashAlgoID = must(r.GetPubKeyHashAlgID())

	c.Platform.Profile = must(p.GetProfile())
	c.Platform.Challenge = h(must(p.GetNonce()))
	c.Platform.ImplementationID = h(must(p.GetImplID()))
	c.Platform.InstanceID = h(must(p.GetInstID()))
	c.Platform.Config = h(must(p.GetConfig()))
	c.Platform.Lifecycle = must(p.GetSecurityLifeCycle())
	c.Platform.LifecycleState = ccaplatform.LifeCycleToState(c.Platform.Lifecycle).String()
	c.Platform.SWComponents = []SWComponent{}
	if scs, err := p.GetSoftwareComponents(); err == nil {
		for _, sc := range scs {
			c.Platform.SWComponents = append(c.Platform.SWComponents, SWComponent{
				MeasurementType:  must(sc.GetMeasurementType()),
				MeasurementValue: h(must(sc.GetMeasurementValue())),
				Version:          must(sc.GetVersion()),
				SignerID:         h(must(sc.GetSignerID())),
				HashAlgoID:       must(sc.GetMeasurementDesc()),
			})
		}
	}
	c.Platform.VerificationService = must(p.GetVSI())
	c.Platform.HashAlgoID = must(p.GetHashAlgID())
	return c
}

// must returns a getter's value, or the zero value for an absent
// optional claim. Parse has validated every mandatory claim (ccatoken's
// Validate), so those getters do not fail; claims are for display and
// never a reason to fail.
func must[T any](v T, err error) T {
	if err != nil {
		var zero T
		return zero
	}
	return v
}
