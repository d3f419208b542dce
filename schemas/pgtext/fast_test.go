package pgtext

import (
	"bytes"
	"math"
	"math/big"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// The fast paths must give exactly what pgtype's parsers (plus the general
// rescale/format code) give, or decline.

func generalDecimal(s string, scale int32) ([]byte, bool) {
	n, err := parseNumeric(s)
	if err != nil || n.NaN || n.InfinityModifier != pgtype.Finite {
		return nil, false
	}
	u, err := rescale(n.Int, n.Exp, scale)
	if err != nil {
		return nil, false
	}
	return twosComplement(u), true
}

func generalTimestamp(s string) (int64, bool) {
	var ts pgtype.Timestamp
	if err := ts.Scan(s); err != nil || ts.InfinityModifier != pgtype.Finite {
		return 0, false
	}
	return ts.Time.UnixMicro(), true
}

func generalTimestamptz(s string) (string, bool) {
	var ts pgtype.Timestamptz
	if err := ts.Scan(s); err != nil || ts.InfinityModifier != pgtype.Finite {
		return "", false
	}
	return ts.Time.UTC().Format("2006-01-02T15:04:05.999999Z07:00"), true
}

func generalDate(s string) (int64, bool) {
	var d pgtype.Date
	if err := d.Scan(s); err != nil || d.InfinityModifier != pgtype.Finite {
		return 0, false
	}
	return floorDiv(d.Time.Unix(), 86400), true
}

func checkFast(t *testing.T, s string, scale int32) {
	t.Helper()
	if got, ok := fastDecimal(s, scale); ok {
		want, wok := generalDecimal(s, scale)
		if !wok || !bytes.Equal(got, want) {
			t.Errorf("fastDecimal(%q, %d) = %x, general = %x (ok %v)", s, scale, got, want, wok)
		}
	}
	if got, ok := fastTimestamp(s); ok {
		want, wok := generalTimestamp(s)
		if !wok || got != want {
			t.Errorf("fastTimestamp(%q) = %d, general = %d (ok %v)", s, got, want, wok)
		}
	}
	if got, ok := fastTimestamptz(s); ok {
		want, wok := generalTimestamptz(s)
		if !wok || got != want {
			t.Errorf("fastTimestamptz(%q) = %q, general = %q (ok %v)", s, got, want, wok)
		}
	}
	if got, ok := civilDate(s); ok {
		want, wok := generalDate(s)
		if !wok || got != want {
			t.Errorf("civilDate(%q) = %d, general = %d (ok %v)", s, got, want, wok)
		}
	}
}

func TestFastPathsAgree(t *testing.T) {
	decimals := []string{"0", "1", "-1", "127", "128", "-128", "-129", "1.25", "-1.25", "0.00", "-0.01",
		"12345678.90", "999999999999999999", "-999999999999999999", "99999999999999999.9", "1.5", ".5", "5."}
	for _, s := range decimals {
		for _, scale := range []int32{0, 1, 2, 3, 6, 18} {
			checkFast(t, s, scale)
		}
	}
	times := []string{
		"1970-01-01", "1969-12-31", "2000-02-29", "1900-03-01", "0001-01-01", "9999-12-31", "2024-01-01",
		"2024-01-01 00:00:01", "1969-12-31 23:59:59.999999", "1969-12-31 23:59:59.5", "0001-01-01 00:00:00",
		"2024-01-01 00:00:01+00", "2024-06-30 12:34:56.1+00", "2024-06-30 12:34:56.120000+00",
		"1960-02-29 01:02:03.000001+00", "9999-12-31 23:59:59.999999+00",
	}
	for _, s := range times {
		checkFast(t, s, 2)
	}
	// What must decline (the general path handles or rejects them).
	for _, s := range []string{"NaN", "Infinity", "1e5", "1234567890123456789", "2024-02-30", "2024-13-01",
		"0044-03-15 BC", "12024-01-01", "2024-01-01 00:00:01+02", "2024-01-01 24:00:00", "2024-01-01 00:00:00.1234567"} {
		if _, ok := fastDecimal(s, 2); ok {
			t.Errorf("fastDecimal(%q) accepted", s)
		}
		if _, ok := fastTimestamp(s); ok {
			t.Errorf("fastTimestamp(%q) accepted", s)
		}
		if _, ok := fastTimestamptz(s); ok {
			t.Errorf("fastTimestamptz(%q) accepted", s)
		}
		if _, ok := civilDate(s); ok {
			t.Errorf("civilDate(%q) accepted", s)
		}
	}
	if _, ok := fastDecimal("1.234", 2); ok {
		t.Error("fastDecimal took more fraction digits than the scale")
	}
}

func TestInt64TwosComplement(t *testing.T) {
	for _, n := range []int64{0, 1, -1, 127, 128, -128, -129, 255, 256, -32768, -32769, 1 << 40, math.MaxInt64, math.MinInt64} {
		want := twosComplement(big.NewInt(n))
		if got := int64TwosComplement(n); !bytes.Equal(got, want) {
			t.Errorf("int64TwosComplement(%d) = %x, want %x", n, got, want)
		}
	}
}

func FuzzFastPaths(f *testing.F) {
	for _, s := range []string{"-12.50", "2024-01-01 00:00:01+00", "1969-12-31 23:59:59.5", "2000-02-29"} {
		f.Add(s, int32(2))
	}
	f.Fuzz(func(t *testing.T, s string, scale int32) {
		checkFast(t, s, scale%20)
	})
}
