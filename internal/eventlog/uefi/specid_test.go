package uefi

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// specID builds Spec ID event data declaring algs (ID, size pairs) and
// vendor info.
func specID(algs [][2]uint16, vendor []byte) []byte {
	b := []byte(SpecIDSignature)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = append(b, 0, 2, 0, 2)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(algs)))
	for _, a := range algs {
		b = binary.LittleEndian.AppendUint16(b, a[0])
		b = binary.LittleEndian.AppendUint16(b, a[1])
	}
	b = append(b, byte(len(vendor)))
	return append(b, vendor...)
}

func TestParseSpecID(t *testing.T) {
	good := specID([][2]uint16{{0x0004, 20}, {0x000B, 32}, {0x0099, 7}}, []byte{1, 2})
	s, err := ParseSpecID(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Algorithms) != 3 || s.Algorithms[1].ID != AlgSHA256 || s.Algorithms[2].Size != 7 || string(s.VendorInfo) != "\x01\x02" || s.SpecVersionMajor != 2 {
		t.Errorf("parsed %+v", s)
	}
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"short", "not a Spec ID Event03", good[:20]},
		{"signature", "not a Spec ID Event03", append([]byte("Spec ID Event02\x00"), good[16:]...)},
		{"no-algorithms", "declares 0 algorithms", specID(nil, nil)},
		{"too-many", "declares 17 algorithms", specID(make([][2]uint16, 17), nil)},
		{"zero-size", "size of 0x0099 is 0", specID([][2]uint16{{0x0099, 0}}, nil)},
		{"wrong-size", "size of sha384 is 32, want 48", specID([][2]uint16{{0x000C, 32}}, nil)},
		{"twice", "lists sha256 twice", specID([][2]uint16{{0x000B, 32}, {0x000B, 32}}, nil)},
		{"no-vendor-size", "ends before vendorInfoSize", good[:len(good)-3]},
		{"vendor-size", "vendorInfoSize is 2, 1 bytes follow", good[:len(good)-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpecID(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
			if strings.HasPrefix(tc.want, "not a Spec ID") != errors.Is(err, ErrNotSpecID) {
				t.Errorf("errors.Is(ErrNotSpecID) = %v", errors.Is(err, ErrNotSpecID))
			}
		})
	}
}

func TestAlgID(t *testing.T) {
	if AlgSHA384.String() != "sha384" || AlgID(0x1234).String() != "0x1234" || AlgSHA256.Size() != 32 || AlgSM3_256.Hash() != 0 {
		t.Error("algorithm registry")
	}
	if AlgOf(AlgSHA512.Hash()) != AlgSHA512 || AlgOf(0) != 0 {
		t.Error("AlgOf")
	}
}
