package policy_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/policy"
)

// The MRTD of the corpus entry tdx-gcp-cos113-ccel-go-tdx-guest as the
// quote carries it, and the same bytes reversed, as tools that print the
// register as a little-endian number show it.
const (
	cosMRTD         = "dae67181d3d65e073ad8f95b7907d5e927bfe9761c9ff3e9b89734a45d8954dba41394c7717cb2735396c1d04231f94a"
	cosMRTDReversed = "4af93142d0c1965373b27c71c79413a4db54895da43497b8e9f39f1c76e9bf27e9d507795bf9d83a075ed6d38171e6da"
)

func TestValidate(t *testing.T) {
	mrtd := ref("cos-mrtd", "tdx", "mr_td", cosMRTD, policy.StateActive)
	day := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	with := func(rv policy.RefValue, f func(*policy.RefValue)) policy.RefValue {
		f(&rv)
		return rv
	}
	tests := []struct {
		name  string
		rv    policy.RefValue
		known []policy.RefValue
		want  []error // kinds, all of which must be reported; nil: valid
		field string  // the first problem's field
	}{
		{name: "snp-measurement", rv: ref("m", "snp", "measurement", turinMeasurement, policy.StateActive)},
		{name: "snp-host-data", rv: ref("h", "snp", "host_data", strings.Repeat("00", 32), policy.StateStaged)},
		{name: "tdx-rtmr3", rv: ref("r", "tdx", "rtmr.3", other48, policy.StateActive)},
		{name: "sgx-mr-signer", rv: ref("s", "sgx", "mr_signer", strings.Repeat("0f", 32), policy.StateActive)},
		{name: "sgx-isv-svn", rv: ref("v", "sgx", "isv_svn", "65535", policy.StateActive)},
		{name: "tpm-sha1-pcr", rv: ref("p", "tpm", "pcrs.sha1.7", strings.Repeat("aa", 20), policy.StateActive)},
		{name: "tpm-sha384-pcr", rv: ref("p", "tpm", "pcrs.sha384.23", other48, policy.StateActive)},
		{name: "nitro-pcr8", rv: ref("n", "nitro", "pcrs.8", other48, policy.StateActive)},
		{name: "cca-rim-sha256", rv: ref("c", "cca", "realm.initial_measurement", strings.Repeat("01", 32), policy.StateActive)},
		{name: "cca-rem-sha512", rv: ref("c", "cca", "realm.extensible_measurements.3", strings.Repeat("01", 64), policy.StateActive)},
		{name: "cca-sw-component", rv: ref("c", "cca", "platform.sw_components", strings.Repeat("01", 32), policy.StateActive)},
		{name: "azcvm-pcr", rv: ref("a", "azcvm", "pcrs.sha256.4", strings.Repeat("01", 32), policy.StateActive)},
		{name: "azcvm-mrtd", rv: ref("a", "azcvm", "mr_td", other48, policy.StateActive)},
		{name: "revoked-with-note", rv: with(mrtd, func(rv *policy.RefValue) { rv.State, rv.Provenance.Note = policy.StateRevoked, "superseded" })},
		{name: "window", rv: with(mrtd, func(rv *policy.RefValue) { rv.NotBefore, rv.NotAfter = day, day.AddDate(1, 0, 0) })},
		{name: "other-version-of-same-id", rv: with(mrtd, func(rv *policy.RefValue) { rv.Version = 2 }), known: []policy.RefValue{mrtd}},

		{name: "snp-measurement-32-bytes", rv: ref("m", "snp", "measurement", strings.Repeat("ab", 32), policy.StateActive), want: []error{policy.ErrLength}, field: "value"},
		{name: "snp-host-data-48-bytes", rv: ref("h", "snp", "host_data", other48, policy.StateActive), want: []error{policy.ErrLength}, field: "value"},
		{name: "sgx-mr-enclave-48-bytes", rv: ref("s", "sgx", "mr_enclave", other48, policy.StateActive), want: []error{policy.ErrLength}, field: "value"},
		{name: "tpm-sha1-pcr-32-bytes", rv: ref("p", "tpm", "pcrs.sha1.0", strings.Repeat("aa", 32), policy.StateActive), want: []error{policy.ErrLength}, field: "value"},
		{name: "cca-instance-id-32-bytes", rv: ref("c", "cca", "platform.instance_id", strings.Repeat("01", 32), policy.StateActive), want: []error{policy.ErrLength}, field: "value"},
		{name: "odd-hex", rv: ref("m", "snp", "measurement", turinMeasurement[1:], policy.StateActive), want: []error{policy.ErrEncoding}, field: "value"},
		{name: "uppercase-hex", rv: ref("m", "snp", "measurement", strings.ToUpper(turinMeasurement), policy.StateActive), want: []error{policy.ErrEncoding}, field: "value"},
		{name: "0x-prefix", rv: ref("m", "snp", "measurement", "0x"+turinMeasurement[2:], policy.StateActive), want: []error{policy.ErrEncoding}, field: "value"},
		{name: "isv-svn-too-big", rv: ref("v", "sgx", "isv_svn", "65536", policy.StateActive), want: []error{policy.ErrEncoding}, field: "value"},
		{name: "isv-svn-leading-zero", rv: ref("v", "sgx", "isv_svn", "07", policy.StateActive), want: []error{policy.ErrEncoding}, field: "value"},
		{name: "unknown-tee", rv: ref("x", "sev", "measurement", turinMeasurement, policy.StateActive), want: []error{policy.ErrUnknownTEE}, field: "tee"},
		{name: "unknown-claim", rv: ref("x", "tdx", "measurement", other48, policy.StateActive), want: []error{policy.ErrUnknownClaim}, field: "claim"},
		{name: "rtmr-4", rv: ref("x", "tdx", "rtmr.4", other48, policy.StateActive), want: []error{policy.ErrUnknownClaim}, field: "claim"},
		{name: "rtmr-leading-zero", rv: ref("x", "tdx", "rtmr.01", other48, policy.StateActive), want: []error{policy.ErrUnknownClaim}, field: "claim"},
		{name: "tpm-bank-unknown", rv: ref("x", "tpm", "pcrs.sm3.0", strings.Repeat("aa", 32), policy.StateActive), want: []error{policy.ErrUnknownClaim}, field: "claim"},
		{name: "not-after-before-not-before", rv: with(mrtd, func(rv *policy.RefValue) { rv.NotBefore, rv.NotAfter = day, day.Add(-time.Second) }), want: []error{policy.ErrWindow}, field: "not_after"},
		{name: "empty-window", rv: with(mrtd, func(rv *policy.RefValue) { rv.NotBefore, rv.NotAfter = day, day }), want: []error{policy.ErrWindow}, field: "not_after"},
		{name: "revoked-without-note", rv: with(mrtd, func(rv *policy.RefValue) { rv.State = policy.StateRevoked }), want: []error{policy.ErrNoNote}, field: "provenance.note"},
		{name: "unknown-state", rv: with(mrtd, func(rv *policy.RefValue) { rv.State = "retired" }), want: []error{policy.ErrState}, field: "state"},
		{name: "version-0", rv: with(mrtd, func(rv *policy.RefValue) { rv.Version = 0 }), want: []error{policy.ErrState}, field: "version"},
		{name: "duplicate-id", rv: with(mrtd, func(rv *policy.RefValue) { rv.Value = other48 }), known: []policy.RefValue{mrtd}, want: []error{policy.ErrDuplicate}, field: "id"},
		{name: "duplicate-value", rv: with(mrtd, func(rv *policy.RefValue) { rv.ID = "cos-mrtd-again" }), known: []policy.RefValue{mrtd}, want: []error{policy.ErrDuplicate}, field: "value"},
		{name: "byte-reversed-mrtd", rv: ref("cos-mrtd-from-other-tool", "tdx", "mr_td", cosMRTDReversed, policy.StateActive), known: []policy.RefValue{mrtd}, want: []error{policy.ErrByteReversed}, field: "value"},
		{name: "missing-everything", rv: policy.RefValue{}, want: []error{policy.ErrMissing, policy.ErrState}, field: "id"},
		{
			name: "several-problems",
			rv: policy.RefValue{ID: "bad", TEE: "snp", Claim: "measurement", Value: strings.Repeat("ab", 32), State: policy.StateRevoked, Version: 1,
				NotBefore: day, NotAfter: day.Add(-time.Hour)},
			want:  []error{policy.ErrLength, policy.ErrWindow, policy.ErrNoNote},
			field: "not_after",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := policy.Validate(tc.rv, tc.known)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("valid, want %v", tc.want)
			}
			for _, k := range tc.want {
				if !errors.Is(err, k) {
					t.Errorf("%v: not %v", err, k)
				}
			}
			var ve *policy.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%v: not a *ValidationError", err)
			}
			if ve.Field != tc.field || ve.ID != tc.rv.ID {
				t.Errorf("first problem: field %q id %q, want %q %q (%v)", ve.Field, ve.ID, tc.field, tc.rv.ID, err)
			}
			if ve.Detail == "" {
				t.Errorf("no detail")
			}
		})
	}
}

// TestValidateUnknownClaimListsKnown: refusing a claim names the ones
// that exist.
func TestValidateUnknownClaimListsKnown(t *testing.T) {
	err := policy.Validate(ref("x", "tdx", "mrtd", other48, policy.StateActive), nil)
	var ve *policy.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, policy.ErrUnknownClaim) {
		t.Fatalf("%v", err)
	}
	for _, c := range policy.KnownClaims("tdx") {
		if !strings.Contains(ve.Detail, c) {
			t.Errorf("detail %q does not list %s", ve.Detail, c)
		}
	}
	if !slices.Contains(policy.KnownClaims("tdx"), "rtmr.0-3") {
		t.Errorf("KnownClaims(tdx) = %v, want rtmr.0-3 among them", policy.KnownClaims("tdx"))
	}
}

// TestValidateByteReversedExplains: the message names the value it
// mirrors and says what happened.
func TestValidateByteReversedExplains(t *testing.T) {
	known := []policy.RefValue{ref("cos-mrtd", "tdx", "mr_td", cosMRTD, policy.StateActive)}
	err := policy.Validate(ref("pasted", "tdx", "mr_td", cosMRTDReversed, policy.StateActive), known)
	var ve *policy.ValidationError
	if !errors.As(err, &ve) || ve.Kind != policy.ErrByteReversed {
		t.Fatalf("%v", err)
	}
	for _, want := range []string{"cos-mrtd", "byte-reversed", "MRTD"} {
		if !strings.Contains(ve.Detail, want) {
			t.Errorf("detail %q does not mention %s", ve.Detail, want)
		}
	}
	// A byte-reversed value of another claim is no concern.
	if err := policy.Validate(ref("rtmr", "tdx", "rtmr.0", cosMRTDReversed, policy.StateActive), known); err != nil {
		t.Errorf("reversed value of another claim: %v", err)
	}
}

func TestValidateAll(t *testing.T) {
	b, err := os.ReadFile("testdata/refvalues.json")
	if err != nil {
		t.Fatal(err)
	}
	rvs, err := policy.ParseRefValues(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := policy.ValidateAll(rvs); err != nil {
		t.Fatalf("the documented example does not validate: %v", err)
	}
	rvs = append(rvs, rvs[0])
	if err := policy.ValidateAll(rvs); !errors.Is(err, policy.ErrDuplicate) {
		t.Errorf("a repeated value: %v, want ErrDuplicate", err)
	}
}

func TestParseRefValues(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		err  error
	}{
		{name: "empty-list", in: `{"reference_values": []}`},
		{name: "one", in: `{"reference_values": [{"id": "a", "tee": "snp", "claim": "measurement", "value": "00", "state": "active", "version": 1, "not_before": "2025-01-01T00:00:00Z", "not_after": "2025-02-01T00:00:00.5+01:00", "provenance": {"author": "x"}}]}`, n: 1},
		{name: "no-key", in: `{}`, err: policy.ErrMalformed},
		{name: "null-list", in: `{"reference_values": null}`, err: policy.ErrMalformed},
		{name: "unknown-field", in: `{"reference_values": [{"id": "a", "notafter": "2025-01-01T00:00:00Z"}]}`, err: policy.ErrMalformed},
		{name: "unknown-top-level", in: `{"reference_values": [], "values": []}`, err: policy.ErrMalformed},
		{name: "bad-time", in: `{"reference_values": [{"id": "a", "not_after": "2025-01-01"}]}`, err: policy.ErrMalformed},
		{name: "version-string", in: `{"reference_values": [{"id": "a", "version": "1"}]}`, err: policy.ErrMalformed},
		{name: "trailing", in: `{"reference_values": []} {}`, err: policy.ErrMalformed},
		{name: "not-json", in: `reference_values: []`, err: policy.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rvs, err := policy.ParseRefValues([]byte(tc.in))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rvs) != tc.n {
				t.Fatalf("%d values, want %d", len(rvs), tc.n)
			}
		})
	}
}

// TestParseRefValuesFields: every field of the documented example lands
// where it should.
func TestParseRefValuesFields(t *testing.T) {
	b, err := os.ReadFile("testdata/refvalues.json")
	if err != nil {
		t.Fatal(err)
	}
	rvs, err := policy.ParseRefValues(b)
	if err != nil {
		t.Fatal(err)
	}
	got := rvs[0]
	want := policy.RefValue{
		ID: "oak-turin-stage0-2025-07", TEE: "snp", Claim: "measurement", Value: turinMeasurement,
		Workload: "oak-containers", State: policy.StateActive, Version: 1,
		NotBefore: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC),
		Provenance: policy.Provenance{
			Author: "platform-team@example.com",
			Source: "project-oak/oak@578b95116bac0dec45b852788c98d1fe19c168bd oak_attestation_verification/testdata/turin_oc_evidence.binarypb",
			Note:   "Oak Containers stage0 firmware on Turin, as measured on Google Cloud",
		},
	}
	if !sameRefValue(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if rvs[3].State != policy.StateRevoked || rvs[3].Version != 2 {
		t.Errorf("fourth value: %+v", rvs[3])
	}
}

func sameRefValue(a, b policy.RefValue) bool {
	return a.NotBefore.Equal(b.NotBefore) && a.NotAfter.Equal(b.NotAfter) &&
		a.ID == b.ID && a.TEE == b.TEE && a.Claim == b.Claim && a.Value == b.Value && a.Workload == b.Workload &&
		a.State == b.State && a.Version == b.Version && a.Provenance == b.Provenance
}
