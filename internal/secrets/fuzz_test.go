package secrets

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzParseKeyring: ParseKeyring never panics, fails only with its
// sentinels, never echoes a key, and on success holds unique valid key ids.
func FuzzParseKeyring(f *testing.F) {
	for _, seed := range []string{
		"k1:" + keyB64('1'),
		"k2:" + keyB64('2') + ",k1:" + keyB64('1'),
		"dev-insecure:" + devKeyBase64,
		"", ",", ":", "k1:", ":" + keyB64('1'), "k1:" + keyB64('1') + ",", "k1:AAAA", "k1:" + keyB64('1') + "=",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		k, err := ParseKeyring(spec)
		if err != nil {
			if !errors.Is(err, ErrInvalidKeyring) && !errors.Is(err, ErrNoMasterKey) {
				t.Fatalf("ParseKeyring(%q) error = %v, want a sentinel", spec, err)
			}
			msg := err.Error()
			for _, entry := range strings.Split(spec, ",") { // key ids may be printed
				if kid, _, ok := strings.Cut(strings.TrimSpace(entry), ":"); ok && kid != "" {
					msg = strings.ReplaceAll(msg, kid, "")
				}
			}
			for _, entry := range strings.Split(spec, ",") {
				if _, key, ok := strings.Cut(entry, ":"); ok && len(key) >= 12 && strings.Contains(msg, key) {
					t.Fatalf("ParseKeyring(%q) error %q echoes a key", spec, err)
				}
			}
			return
		}
		ids := k.KeyIDs()
		seen := map[string]bool{}
		for _, id := range ids {
			if !validKeyID(id) || seen[id] {
				t.Fatalf("ParseKeyring(%q) key ids %v: invalid or duplicate", spec, ids)
			}
			seen[id] = true
		}
		if len(ids) == 0 || k.PrimaryID() != ids[0] {
			t.Fatalf("ParseKeyring(%q) primary %q, ids %v", spec, k.PrimaryID(), ids)
		}
	})
}

// FuzzDecodeRecord: decodeRecord never panics, fails only with
// ErrCorruptRecord, and what it accepts keeps the record invariants and
// survives an encode/decode round trip.
func FuzzDecodeRecord(f *testing.F) {
	valid, _ := json.Marshal(validRecord())
	for _, seed := range []string{string(valid), "", "null", "{}", `{"v":1,"org_id":"org_1"}`,
		`{"v":1,"org_id":"org_1","secrets":[{}]}`, `{"v":1,"org_id":"org_1","secrets":null}`, leak} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		r, err := decodeRecord("org_1", value)
		if err != nil {
			if !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("decodeRecord error = %v, want ErrCorruptRecord", err)
			}
			return
		}
		if problem := checkEntries(r.Secrets); problem != "" || r.V != RecordVersion || r.OrgID != "org_1" {
			t.Fatalf("decodeRecord accepted a record that breaks a rule: %s", problem)
		}
		b, err := encodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeRecord("org_1", b); err != nil {
			t.Fatalf("re-decoding an accepted record: %v", err)
		}
	})
}
