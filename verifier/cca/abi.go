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

// FormatTokenCMW is the same token as a RATS Conceptual Message Wrapper
// (draft-ietf-rats-msg-wrap) collection under CBOR tag 907, the form of
// draft-ffm-rats-cca-token-02 and later and of the RMM specification 2.0
// (in beta; EDK2's ArmCcaToken.h names it CCA_TOKEN_COLLECTION_TAG_REV1):
//
//	cca-token = #6.907(cca-token-CMW)
//	cca-token-CMW = {
//	  44234 => [263, bstr .cbor COSE_Sign1_Tagged]  ; platform token
//	  44241 => [263, bstr .cbor COSE_Sign1_Tagged]  ; realm delegated token
//	  ? 44258 => [601, bstr .cbor cca-device-claims] ; device token
//	}
//
// each value a CMW record whose type is the CoAP content-format 263,
// application/eat+cwt. The device token (RMM 2.0 device assignment, an
// unsigned UCCS) is not supported: a token carrying one is refused rather
// than verified in part.
const FormatTokenCMW = "cca-token-cmw"

// CMW constants of FormatTokenCMW.
const (
	cmwCollectionTag = 907
	coapEATCWT       = 263   // application/eat+cwt
	keyDeviceToken   = 44258 // cca-device-token-label
)

// collectionTag is the CBOR tag of the CCA token collection (RMM A7.2.1,
// "cca-token-collection = #6.399(...)"); the collection's keys are 44234
// (the CCA platform token) and 44241 (the realm delegated token).
const collectionTag = 399

// Token is a parsed CCA attestation token: two COSE_Sign1 messages (RFC
// 9052, section 4.2) and their claims, decoded and checked for syntax by
// github.com/veraison/ccatoken. Parse does no cryptography; Verify does.
type Token struct {
	// Format is FormatToken (tag 399) or FormatTokenCMW (tag 907): the
	// form Marshal writes. The empty string is FormatToken.
	Format string
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
// (0xd9 0x01 0x8f) or tag 907 (0xd9 0x03 0x8b, the CMW form) around a map.
// It decodes nothing.
func Sniff(b []byte) bool {
	return sniffForm(b) != ""
}

func sniffForm(b []byte) string {
	if len(b) < 4 || b[0] != 0xd9 || b[3]>>5 != 5 {
		return ""
	}
	switch {
	case b[1] == 0x01 && b[2] == 0x8f:
		return FormatToken
	case b[1] == 0x03 && b[2] == 0x8b:
		return FormatTokenCMW
	}
	return ""
}

// cmwDec decodes the CMW collection: definite lengths, no duplicate keys.
var cmwDec, cmwDecErr = cbor.DecOptions{
	IndefLength: cbor.IndefLengthForbidden,
	DupMapKey:   cbor.DupMapKeyEnforcedAPF,
}.DecMode()

var cmwEnc, cmwEncErr = cbor.CoreDetEncOptions().EncMode()

// cmwRecord is a CMW cbor-record (draft-ietf-rats-msg-wrap):
// [type, value, ? ind]; the CCA profile uses [263, bytes], no indicator.
type cmwRecord struct {
	_     struct{} `cbor:",toarray"`
	Type  uint64
	Value []byte
}

// fromCMW reads the tag 907 collection and returns the tag 399 collection
// of the same two tokens, which ccatoken decodes.
func fromCMW(b []byte) (platform, realm []byte, err error) {
	if cmwDecErr != nil {
		return nil, nil, fmt.Errorf("%w: CBOR decoder: %v", ErrMalformed, cmwDecErr)
	}
	var top cbor.RawTag
	if err := cmwDec.Unmarshal(b, &top); err != nil {
		return nil, nil, fmt.Errorf("%w: not a CCA token CMW collection (CBOR tag 907): %v", ErrMalformed, err)
	}
	if top.Number != cmwCollectionTag {
		return nil, nil, fmt.Errorf("%w: CBOR tag %d, want %d (CMW collection)", ErrMalformed, top.Number, cmwCollectionTag)
	}
	var coll map[int64]cbor.RawMessage
	if err := cmwDec.Unmarshal(top.Content, &coll); err != nil {
		return nil, nil, fmt.Errorf("%w: CCA token CMW collection: a map of integer labels: %v", ErrMalformed, err)
	}
	for k := range coll {
		switch k {
		case ccaPlatformKey, ccaRealmKey:
		case keyDeviceToken:
			return nil, nil, fmt.Errorf("%w: the CMW collection carries a CCA device token (label %d, RMM 2.0 device assignment), which this verifier does not support", ErrMalformed, k)
		default:
			return nil, nil, fmt.Errorf("%w: the CMW collection has label %d; a CCA token has %d and %d", ErrMalformed, k, ccaPlatformKey, ccaRealmKey)
		}
	}
	get := func(k int64, what string) ([]byte, error) {
		raw, ok := coll[k]
		if !ok {
			return nil, fmt.Errorf("%w: the CMW collection has no %s (label %d)", ErrMalformed, what, k)
		}
		var rec cmwRecord
		if err := cmwDec.Unmarshal(raw, &rec); err != nil {
			return nil, fmt.Errorf("%w: %s (label %d): not a CMW record [type, bytes]: %v", ErrMalformed, what, k, err)
		}
		if rec.Type != coapEATCWT {
			return nil, fmt.Errorf("%w: %s (label %d): CMW type %d, want %d (application/eat+cwt)", ErrMalformed, what, k, rec.Type, coapEATCWT)
		}
		if rec.Value == nil {
			return nil, fmt.Errorf("%w: %s (label %d): empty CMW record", ErrMalformed, what, k)
		}
		return rec.Value, nil
	}
	if platform, err = get(ccaPlatformKey, "CCA platform token"); err != nil {
		return nil, nil, err
	}
	if realm, err = get(ccaRealmKey, "realm token"); err != nil {
		return nil, nil, err
	}
	return platform, realm, nil
}

// Collection keys (RMM A7.2.1).
const (
	ccaPlatformKey = 44234
	ccaRealmKey    = 44241
)

// Parse decodes a CCA token: the tagged collection, both COSE_Sign1
// messages, and their claims, which ccatoken checks for syntax (lengths,
// mandatory claims, a known platform profile). It does no cryptography.
func Parse(b []byte) (*Token, error) {
	if collectionDecErr != nil {
		return nil, fmt.Errorf("%w: CBOR decoder: %v", ErrMalformed, collectionDecErr)
	}
	format := FormatToken
	if sniffForm(b) == FormatTokenCMW {
		// The CMW form carries the same two COSE_Sign1 tokens; they are
		// read from the tag 399 collection they make, so that both forms
		// go through one decoder and one set of checks.
		p, r, err := fromCMW(b)
		if err != nil {
			return nil, err
		}
		if collectionEncErr != nil {
			return nil, fmt.Errorf("%w: CBOR encoder: %v", ErrMalformed, collectionEncErr)
		}
		if b, err = collectionEnc.Marshal(ccatoken.CBORCollection{PlatformToken: &p, RealmToken: &r}); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		format = FormatTokenCMW
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
		Format:        format,
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

// Marshal encodes the token's collection again in its form (t.Format):
// tag 399 around a map of the two COSE_Sign1 byte strings, or tag 907
// around a map of the two CMW records, in deterministic CBOR (RFC 8949,
// section 4.2.1). The tokens themselves are kept byte for byte.
func Marshal(t *Token) ([]byte, error) {
	p, r := t.PlatformToken, t.RealmToken
	if t.Format == FormatTokenCMW {
		if cmwEncErr != nil {
			return nil, fmt.Errorf("CBOR encoder: %v", cmwEncErr)
		}
		return cmwEnc.Marshal(cbor.Tag{Number: cmwCollectionTag, Content: map[int64]cmwRecord{
			ccaPlatformKey: {Type: coapEATCWT, Value: p},
			ccaRealmKey:    {Type: coapEATCWT, Value: r},
		}})
	}
	if collectionEncErr != nil {
		return nil, fmt.Errorf("CBOR encoder: %v", collectionEncErr)
	}
	return collectionEnc.Marshal(ccatoken.CBORCollection{PlatformToken: &p, RealmToken: &r})
}
