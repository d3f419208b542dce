package pgtext

import (
	"bytes"
	"math/big"
	"reflect"
	"testing"
)

func TestTwosComplement(t *testing.T) {
	// Expected bytes from Java's BigInteger.toByteArray / Python's
	// int.to_bytes(signed=True) with the minimal length.
	for _, tc := range []struct {
		v    int64
		want []byte
	}{
		{0, []byte{0x00}}, {1, []byte{0x01}}, {127, []byte{0x7f}}, {128, []byte{0x00, 0x80}},
		{-1, []byte{0xff}}, {-128, []byte{0x80}}, {-129, []byte{0xff, 0x7f}}, {-12345, []byte{0xcf, 0xc7}},
		{65535, []byte{0x00, 0xff, 0xff}},
	} {
		if got := twosComplement(big.NewInt(tc.v)); !bytes.Equal(got, tc.want) {
			t.Errorf("twosComplement(%d) = %x, want %x", tc.v, got, tc.want)
		}
	}
}

func TestDecodeText(t *testing.T) {
	for _, tc := range []struct {
		name string
		dec  Decoder
		in   string
		want any
	}{
		{"bits", decodeBits, "1000000001", []byte{0x01, 0x02}},
		{"bits9", decodeBits, "100000000", []byte{0x00, 0x01}},
		{"interval", decodeInterval, "1 year 2 mons 3 days 04:05:06.5", int64(14*2_629_800_000_000 + 3*86_400_000_000 + (4*3600+5*60+6)*1_000_000 + 500_000)},
		{"negative interval", decodeInterval, "-00:00:01", int64(-1_000_000)},
		{"date before epoch", decodeDate, "1969-12-31", int32(-1)},
		{"time 24h", decodeTime(false), "24:00:00", int64(86_400_000_000)},
		{"timetz wraps", decodeTimetz, "01:00:00-05:30", "06:30:00Z"},
		{"timestamptz whole second", decodeTimestamptz, "2024-01-02 03:04:05+00", "2024-01-02T03:04:05Z"},
		{"decimal pads scale", decodeDecimal(3), "1.5", []byte{0x05, 0xdc}},
		{"decimal NaN", decodeDecimal(2), "NaN", nil},
		{"money negative", decodeMoney, "-$1,234.56", []byte{0xfe, 0x1d, 0xc0}},
		{"bytea escape", decodeBytea, `a\\b\001`, []byte{'a', '\\', 'b', 1}},
		{"2d array", func(s string) (any, error) { return parseArray(s, ',', decodeString) }, `{{a,"b,c"},{NULL,"NULL"}}`,
			[]any{[]any{"a", "b,c"}, []any{nil, "NULL"}}},
		{"bounded array", func(s string) (any, error) { return parseArray(s, ',', decodeString) }, `[0:1]={x,y}`, []any{"x", "y"}},
		{"empty array", func(s string) (any, error) { return parseArray(s, ',', decodeString) }, `{}`, []any{}},
	} {
		got, err := tc.dec(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: decode(%q) = %#v, want %#v", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestDecodeTextErrors(t *testing.T) {
	for _, in := range []string{"{", "{a", `{"a`, "{a}x", "a", `{"\`} {
		if _, err := parseArray(in, ',', decodeString); err == nil {
			t.Errorf("parseArray(%q) succeeded, want error", in)
		}
	}
	if _, err := decodeBits("102"); err == nil {
		t.Error("decodeBits(102) succeeded")
	}
}

func FuzzParseArray(f *testing.F) {
	for _, s := range []string{"{}", "{1,2}", `{"a\"b",NULL}`, "{{1},{2}}", "[1:2]={a,b}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseArray(s, ',', decodeString) // must not panic
	})
}
