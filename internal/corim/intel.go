package corim

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// The Intel profile for CoRIM (draft-cds-rats-intel-corim-profile,
// "Profile Identifier" and "Measurement Extensions"; its CDDL in
// cddl/exports/intel-profile.cddl) extends measurement-values-map with
// negative keys, and wraps reference values in expressions: a numeric
// expression #6.60010([operator, value]) and set expressions
// #6.60020([operator, [* digest]]) and #6.60021([operator, [* text]]).
// veraison/corim's profiles/tdx reads the same keys.

// ProfileIntel is the Intel profile's OID,
// joint-iso-itu-t.country.us.organization.intel.intel-comid.profile.
const ProfileIntel = "2.16.840.1.113741.1.16.1"

// Intel profile expression tags and operators ("Expressions"; operators
// in cddl/tee-operators.cddl).
const (
	TagNumericExpression = 60010
	TagSetDigestExpr     = 60020
	TagSetTextExpr       = 60021

	OpEq        = 0
	OpGt        = 1
	OpGe        = 2
	OpLt        = 3
	OpLe        = 4
	OpMember    = 6
	OpNotMember = 7
)

// Intel profile measurement-values-map keys this reader interprets.
const (
	keyTeeVendor    = -70 // tee.vendor: text
	keyTeeModel     = -71 // tee.model: text
	keyTeeISVSVN    = -73 // tee.isvsvn: $tee-svn-type
	keyTeeMrTee     = -83 // tee.mrtee: $tee-digest-type
	keyTeeMrSigner  = -84 // tee.mrsigner: $tee-digest-type
	keyTeeISVProdID = -85 // tee.isvprodid: uint / bytes
)

// IntelValues are the Intel profile extensions of one
// measurement-values-map that this reader interprets. The others
// (attributes -82 and miscselect -81 with masks, TCB status -88, advisory
// IDs -89, TCB dates -72 and -90, TCB evaluation number -86, PCE ID -80,
// instance ID -77, TCB component SVNs -125, keys -91, ...) are left in
// Measurement.Unread.
type IntelValues struct {
	// MrTee and MrSigner: tee.mrtee (MRENCLAVE, MRTD, MRSEAM) and
	// tee.mrsigner (MRSIGNER, MRSIGNERSEAM); nil when absent.
	MrTee, MrSigner *DigestSet
	// ISVProdID: tee.isvprodid as an uint; ISVProdIDBytes when it is a
	// byte string (its byte order the profile leaves open).
	ISVProdID      *uint64
	ISVProdIDBytes []byte
	// ISVSVN: tee.isvsvn, with the comparison it asks for.
	ISVSVN *Numeric
	// Vendor, Model: tee.vendor and tee.model.
	Vendor, Model string
}

func (v *IntelValues) empty() bool {
	return v.MrTee == nil && v.MrSigner == nil && v.ISVProdID == nil && v.ISVProdIDBytes == nil &&
		v.ISVSVN == nil && v.Vendor == "" && v.Model == ""
}

// DigestSet is a $tee-digest-type: digests the evidence must be one of
// or, when Exclude (op.nmem), must be none of.
type DigestSet struct {
	Digests []Digest
	Exclude bool
}

// Numeric is a number and how the evidence compares with it: Op is
// OpEq for a bare svn-type or tagged-svn (552), OpGe for a tagged-min-svn
// (553), else the numeric expression's operator.
type Numeric struct {
	Op    int
	Value uint64
}

// read interprets one extension; false when key is not one it reads.
func (v *IntelValues) read(key int, raw cbor.RawMessage) (bool, error) {
	var err error
	switch key {
	case keyTeeVendor:
		err = dec.Unmarshal(raw, &v.Vendor)
	case keyTeeModel:
		err = dec.Unmarshal(raw, &v.Model)
	case keyTeeMrTee:
		v.MrTee, err = teeDigests(raw)
	case keyTeeMrSigner:
		v.MrSigner, err = teeDigests(raw)
	case keyTeeISVProdID:
		if len(raw) > 0 && raw[0]>>5 == 2 {
			err = dec.Unmarshal(raw, &v.ISVProdIDBytes)
		} else {
			var n uint64
			if err = dec.Unmarshal(raw, &n); err == nil {
				v.ISVProdID = &n
			} else {
				err = fmt.Errorf("want an uint or bytes: %v", err)
			}
		}
	case keyTeeISVSVN:
		v.ISVSVN, err = teeSVN(raw)
	default:
		return false, nil
	}
	return true, err
}

// teeDigests reads $tee-digest-type: a digest, a digests-type, or a set
// expression (60020) over digests.
func teeDigests(raw cbor.RawMessage) (*DigestSet, error) {
	s := &DigestSet{}
	if len(raw) > 0 && raw[0]>>5 == 6 {
		var t cbor.RawTag
		if err := dec.Unmarshal(raw, &t); err != nil {
			return nil, err
		}
		if t.Number != TagSetDigestExpr {
			return nil, fmt.Errorf("CBOR tag %d, want a digest set expression (%d)", t.Number, TagSetDigestExpr)
		}
		var e []cbor.RawMessage
		if err := dec.Unmarshal(t.Content, &e); err != nil || len(e) != 2 {
			return nil, fmt.Errorf("set expression: want [operator, [* digest]]")
		}
		var op int
		if err := dec.Unmarshal(e[0], &op); err != nil || (op != OpMember && op != OpNotMember) {
			return nil, fmt.Errorf("set expression: operator %s, want %d (member) or %d (not member)", e[0], OpMember, OpNotMember)
		}
		s.Exclude = op == OpNotMember
		raw = e[1]
	}
	// A single digest is [alg, bytes]; a digests-type is [+ [alg, bytes]].
	var l []cbor.RawMessage
	if err := dec.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("want a digest or digests: %v", err)
	}
	if len(l) == 2 && len(l[0]) > 0 && l[0][0]>>5 != 4 {
		ds, err := digests(append(cbor.RawMessage{0x81}, raw...))
		if err != nil {
			return nil, err
		}
		s.Digests = ds
		return s, nil
	}
	ds, err := digests(raw)
	if err != nil {
		return nil, err
	}
	s.Digests = ds
	return s, nil
}

// teeSVN reads $tee-svn-type: an uint, a tagged-svn (552), a
// tagged-min-svn (553), or a numeric expression (60010) over an uint.
func teeSVN(raw cbor.RawMessage) (*Numeric, error) {
	n := &Numeric{Op: OpEq}
	if len(raw) > 0 && raw[0]>>5 == 6 {
		var t cbor.RawTag
		if err := dec.Unmarshal(raw, &t); err != nil {
			return nil, err
		}
		switch t.Number {
		case TagSVN:
		case TagMinSVN:
			n.Op = OpGe
		case TagNumericExpression:
			var e []cbor.RawMessage
			if err := dec.Unmarshal(t.Content, &e); err != nil || len(e) != 2 {
				return nil, fmt.Errorf("numeric expression: want [operator, value]")
			}
			if err := dec.Unmarshal(e[0], &n.Op); err != nil || n.Op < OpEq || n.Op > OpLe {
				return nil, fmt.Errorf("numeric expression: operator %s, want %d to %d", e[0], OpEq, OpLe)
			}
			t.Content = e[1]
		default:
			return nil, fmt.Errorf("CBOR tag %d, want an svn (%d), a min-svn (%d) or a numeric expression (%d)", t.Number, TagSVN, TagMinSVN, TagNumericExpression)
		}
		raw = t.Content
	}
	if err := dec.Unmarshal(raw, &n.Value); err != nil {
		return nil, fmt.Errorf("want an uint: %v", err)
	}
	return n, nil
}

// MvalName names a measurement-values-map key for messages: the
// draft-ietf-rats-corim name, or with intel the Intel profile's; else
// "key N".
func MvalName(key int, intel bool) string {
	switch key {
	case 0:
		return "version"
	case 1:
		return "svn"
	case 2:
		return "digests"
	case 3:
		return "flags"
	case 4:
		return "raw-value"
	case 5:
		return "raw-value-mask"
	case 6:
		return "mac-addr"
	case 7:
		return "ip-addr"
	case 8:
		return "serial-number"
	case 9:
		return "ueid"
	case 10:
		return "uuid"
	case 11:
		return "name"
	case 13:
		return "cryptokeys"
	case 14:
		return "integrity-registers"
	case 15:
		return "raw-int"
	}
	if intel {
		switch key {
		case keyTeeVendor:
			return "tee.vendor"
		case keyTeeModel:
			return "tee.model"
		case -72:
			return "tee.tcbdate"
		case keyTeeISVSVN:
			return "tee.isvsvn"
		case -77:
			return "tee.platform-instance-id"
		case -80:
			return "tee.pceid"
		case -81:
			return "tee.miscselect"
		case -82:
			return "tee.attributes"
		case keyTeeMrTee:
			return "tee.mrtee"
		case keyTeeMrSigner:
			return "tee.mrsigner"
		case keyTeeISVProdID:
			return "tee.isvprodid"
		case -86:
			return "tee.tcb-eval-num"
		case -88:
			return "tee.tcbstatus"
		case -89:
			return "tee.advisory-ids"
		case -90:
			return "tee.epoch"
		case -91:
			return "tee.cryptokeys"
		case -101:
			return "tee.platform-instance-id"
		case -125:
			return "tee.tcb-comp-svn"
		}
	}
	return "key " + strconv.Itoa(key)
}

// OID renders an OID's content octets (RFC 9090: tag 111 holds them
// without the DER tag and length) in dotted decimal. Content that starts
// with a complete DER header (06, length) is read past it: the SEV-SNP
// profile draft writes its class-ids so.
func OID(b []byte) (string, error) {
	if len(b) >= 2 && b[0] == 0x06 && int(b[1]) == len(b)-2 {
		b = b[2:]
	}
	if len(b) == 0 {
		return "", fmt.Errorf("empty OID")
	}
	var arcs []string
	var n uint64
	first := true
	for i, c := range b {
		if n == 0 && c == 0x80 {
			return "", fmt.Errorf("OID arc at byte %d is not minimally encoded", i)
		}
		if n > 1<<56 {
			return "", fmt.Errorf("OID arc at byte %d is too large", i)
		}
		n = n<<7 | uint64(c&0x7f)
		if c&0x80 != 0 {
			continue
		}
		if first {
			switch {
			case n < 40:
				arcs = append(arcs, "0", strconv.FormatUint(n, 10))
			case n < 80:
				arcs = append(arcs, "1", strconv.FormatUint(n-40, 10))
			default:
				arcs = append(arcs, "2", strconv.FormatUint(n-80, 10))
			}
			first = false
		} else {
			arcs = append(arcs, strconv.FormatUint(n, 10))
		}
		n = 0
	}
	if b[len(b)-1]&0x80 != 0 {
		return "", fmt.Errorf("OID ends inside an arc")
	}
	return strings.Join(arcs, "."), nil
}
