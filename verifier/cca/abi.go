package cca

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/ccatoken"
	ccaplatform "github.com/veraison/ccatoken/platform"
	ccarealm "github.com/veraison/ccatoken/realm"
	cose "github.com/veraison/go-cose"
	"github.com/veraison/psatoken"
)

// FormatToken is the CCA attestation token: the CBOR-tagged collection of
// RMM specification (DEN0137) A7.2.1, as the RSI_ATTEST_TOKEN_CONTINUE
// calls of a realm return it and as TF-RMM, Trustee and Veraison store it.
const FormatToken = "cca-token"

// collectionTag is the CBOR tag of the CCA token collection (RMM A7.2.1,
// "cca-token-collection = #6.399(...)"); the collection's keys are 44234
// (the CCA platform token) and 44241 (the realm delegated token).
const collectionTag = 399

// Token is a parsed CCA attestation token: two COSE_Sign1 messages (RFC
// 9052, section 4.2) and their claims, decoded and checked for syntax by
// github.com/veraison/ccatoken. Parse does no cryptography; Verify does.
type Token struct {
	// PlatformToken is the CCA platform token (collection key 44234), a
	// COSE_Sign1 signed by the platform attestation key (CPAK).
	PlatformToken []byte
	// RealmToken is the realm token (collection key 44241), a COSE_Sign1
	// signed by the realm attestation key (RAK) it carries in its realm
	// public key claim.
	RealmToken []byte

	platformMsg, realmMsg *cose.Sign1Message
	platform              ccaplatform.IClaims
	realm                 ccarealm.IClaims
}

// The collection is decoded strictly before ccatoken sees it: a duplicate
// or unknown key, or a missing tag, is refused, so that the bytes whose
// signatures Verify checks are the bytes ccatoken decodes claims from.
var collectionDec, collectionDecErr = func() (cbor.DecMode, error) {
	tags := cbor.NewTagSet()
	opts := cbor.TagOptions{DecTag: cbor.DecTagRequired, EncTag: cbor.EncTagRequired}
	if err := tags.Add(opts, reflect.TypeOf(ccatoken.CBORCollection{}), collectionTag); err != nil {
		return nil, err
	}
	return cbor.DecOptions{
		IndefLength:       cbor.IndefLengthForbidden,
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecModeWithTags(tags)
}()

var collectionEnc, collectionEncErr = func() (cbor.EncMode, error) {
	tags := cbor.NewTagSet()
	opts := cbor.TagOptions{DecTag: cbor.DecTagRequired, EncTag: cbor.EncTagRequired}
	if err := tags.Add(opts, reflect.TypeOf(ccatoken.CBORCollection{}), collectionTag); err != nil {
		return nil, err
	}
	return cbor.CoreDetEncOptions().EncModeWithTags(tags)
}()

// Sniff reports whether b starts like a CCA token collection: CBOR tag 399
// (0xd9 0x01 0x8f) around a map. It decodes nothing.
func Sniff(b []byte) bool {
	return len(b) >= 4 && b[0] == 0xd9 && b[1] == 0x01 && b[2] == 0x8f && b[3]>>5 == 5
}

// Parse decodes a CCA token: the tagged collection, both COSE_Sign1
// messages, and their claims, which ccatoken checks for syntax (lengths,
// mandatory claims, a known platform profile). It does no cryptography.
func Parse(b []byte) (*Token, error) {
	if collectionDecErr != nil {
		return nil, fmt.Errorf("%w: CBOR decoder: %v", ErrMalformed, collectionDecErr)
	}
	var coll ccatoken.CBORCollection
	if err := collectionDec.Unmarshal(b, &coll); err != nil {
		return nil, fmt.Errorf("%w: not a CCA token collection (CBOR tag 399 map of keys 44234 and 44241): %v", ErrMalformed, err)
	}
	if coll.PlatformToken == nil {
		return nil, fmt.Errorf("%w: the collection has no CCA platform token (key 44234)", ErrMalformed)
	}
	if coll.RealmToken == nil {
		return nil, fmt.Errorf("%w: the collection has no realm token (key 44241)", ErrMalformed)
	}
	ev, err := ccatoken.DecodeAndValidateEvidenceFromCBOR(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	t := &Token{
		PlatformToken: *coll.PlatformToken,
		RealmToken:    *coll.RealmToken,
		platform:      ev.PlatformClaims,
		realm:         ev.RealmClaims,
	}
	// A realm profile other than the one ccatoken knows would change how
	// the RAK is encoded (raw point or COSE_Key): refuse what it cannot
	// read rather than guess.
	if _, err := t.realm.GetProfile(); err != nil && !errors.Is(err, psatoken.ErrOptionalClaimMissing) {
		return nil, fmt.Errorf("%w: realm token profile: %v", ErrMalformed, err)
	}
	if t.platformMsg, err = parseSign1(t.PlatformToken, "platform token"); err != nil {
		return nil, err
	}
	if t.realmMsg, err = parseSign1(t.RealmToken, "realm token"); err != nil {
		return nil, err
	}
	return t, nil
}

// parsed reports whether t came from Parse: Verify and NewClaims need the
// decoded messages and claims, not only the exported bytes.
func (t *Token) parsed() bool {
	return t != nil && t.platformMsg != nil && t.realmMsg != nil && t.platform != nil && t.realm != nil
}

// parseSign1 decodes a tagged COSE_Sign1 with an attached payload and a
// protected algorithm (RFC 9052, sections 3.1 and 4.2).
func parseSign1(b []byte, what string) (*cose.Sign1Message, error) {
	m := cose.NewSign1Message()
	if err := m.UnmarshalCBOR(b); err != nil {
		return nil, fmt.Errorf("%w: %s: not a COSE_Sign1: %v", ErrMalformed, what, err)
	}
	if m.Payload == nil {
		return nil, fmt.Errorf("%w: %s: COSE_Sign1 has a detached payload", ErrMalformed, what)
	}
	if _, err := m.Headers.Protected.Algorithm(); err != nil {
		return nil, fmt.Errorf("%w: %s: no signature algorithm in the protected header: %v", ErrMalformed, what, err)
	}
	return m, nil
}

// Marshal encodes the token's collection again: tag 399 around a map of
// the two COSE_Sign1 byte strings, in deterministic CBOR (RFC 8949,
// section 4.2.1). The tokens themselves are kept byte for byte.
func Marshal(t *Token) ([]byte, error) {
	if collectionEncErr != nil {
		return nil, fmt.Errorf("CBOR encoder: %v", collectionEncErr)
	}
	p, r := t.PlatformToken, t.RealmToken
	return collectionEnc.Marshal(ccatoken.CBORCollection{PlatformToken: &p, RealmToken: &r})
}
