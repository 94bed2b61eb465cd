package jcs

import (
	"errors"
	"math"
	"strconv"
	"testing"
)

// TestFormatFloatAppendixB runs the number serialization samples of
// RFC 8785 Appendix B: the IEEE 754 bit pattern and the expected JSON
// text ("" where the RFC says the value must be rejected).
func TestFormatFloatAppendixB(t *testing.T) {
	for _, tc := range []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"}, // minus zero
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x7fffffffffffffff, ""}, // NaN
		{0x7ff0000000000000, ""}, // Infinity
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	} {
		f := math.Float64frombits(tc.bits)
		got, err := formatFloat(f)
		if tc.want == "" {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%016x: got %q, %v; want ErrMalformed", tc.bits, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%016x: got %q, %v; want %q", tc.bits, got, err, tc.want)
			continue
		}
		// The canonical text must read back as the same double.
		back, err := strconv.ParseFloat(got, 64)
		if err != nil || back != math.Abs(f)*sign(f) {
			t.Errorf("%016x: %q reads back as %v, %v", tc.bits, got, back, err)
		}
	}
}

func sign(f float64) float64 {
	if f == 0 {
		return 0
	}
	if math.Signbit(f) {
		return -1
	}
	return 1
}

// TestFormatFloatBoundaries walks the places where Number::toString
// changes form: n = 21/22 (integer vs exponent), n = -5/-6 (0.00000d vs
// exponent), and a single significant digit vs several.
func TestFormatFloatBoundaries(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{1, "1"},
		{-1, "-1"},
		{0.5, "0.5"},
		{100, "100"},
		{123.456, "123.456"},
		{1e20, "100000000000000000000"},
		{1e21, "1e+21"},
		{1.5e21, "1.5e+21"},
		{123456789012345680000, "123456789012345680000"},
		{1e-6, "0.000001"},
		{1.5e-6, "0.0000015"},
		{1e-7, "1e-7"},
		{1.25e-7, "1.25e-7"},
		{5e-324, "5e-324"},
		{0.1, "0.1"},
		{math.Float64frombits(0x3fd3333333333334), "0.30000000000000004"}, // 0.1+0.2 at run time
		{4.5, "4.5"},
		{2e-3, "0.002"},
		{1e30, "1e+30"},
		{1e-27, "1e-27"},
		{-1e-7, "-1e-7"},
		{-1e21, "-1e+21"},
	} {
		got, err := formatFloat(tc.f)
		if err != nil || got != tc.want {
			t.Errorf("%v: got %q, %v; want %q", tc.f, got, err, tc.want)
		}
	}
}
