package mysql

import (
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/schemas/mysqltype"
)

// checkFastTimestamps compares the fast paths with mysqltype's general
// path (time.Parse and time.Format) for one driver text.
func checkFastTimestamps(t *testing.T, s string) {
	t.Helper()
	for fsp := 0; fsp <= 6; fsp++ {
		c := mysqltype.Column{Kind: mysqltype.KindZonedTimestamp, Scale: fsp}
		if got, ok := fastZonedTimestamp([]byte(s), fsp); ok {
			want, err := c.ZonedTimestampText(s)
			if err != nil || got != want {
				t.Errorf("fastZonedTimestamp(%q, %d) = %q, general = %v (%v)", s, fsp, got, want, err)
			}
		}
	}
	if tm, ok := fastDatetime([]byte(s)); ok {
		for _, k := range []mysqltype.Kind{mysqltype.KindTimestampMillis, mysqltype.KindTimestampMicros} {
			c := mysqltype.Column{Kind: k}
			want, err := c.DatetimeText(s)
			if got := c.Datetime(tm); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("fastDatetime(%q) kind %d = %v, general = %v (%v)", s, k, got, want, err)
			}
		}
	}
}

func TestFastTimestampsAgree(t *testing.T) {
	for _, s := range []string{
		"1970-01-01 00:00:01", "2038-01-19 03:14:07.999999", "2024-02-29 12:34:56.5", "2024-01-01 00:00:00.120",
		"1000-01-01 00:00:00", "9999-12-31 23:59:59.000001", "1969-12-31 23:59:59.5", "2024-06-30 01:02:03.123456",
	} {
		if _, ok := fastDatetime([]byte(s)); !ok {
			t.Errorf("fastDatetime(%q) declined a driver layout", s)
		}
		checkFastTimestamps(t, s)
	}
	// Zero dates and odd layouts go to the general path.
	for _, s := range []string{"0000-00-00 00:00:00", "2024-00-10 00:00:00", "2023-02-29 00:00:00", "2024-01-01",
		"2024-01-01 24:00:00", "2024-01-01 00:00:00.", "2024-01-01 00:00:00.1234567", "2024-01-01T00:00:00"} {
		if _, ok := fastDatetime([]byte(s)); ok {
			t.Errorf("fastDatetime(%q) accepted", s)
		}
		if _, ok := fastZonedTimestamp([]byte(s), 3); ok {
			t.Errorf("fastZonedTimestamp(%q) accepted", s)
		}
	}
	if got, _ := fastZonedTimestamp([]byte("2024-01-02 03:04:05.1"), 3); got != "2024-01-02T03:04:05.100Z" {
		t.Errorf("fsp 3 pads: got %q", got)
	}
}

func FuzzFastTimestamps(f *testing.F) {
	for _, s := range []string{"2024-02-29 12:34:56.5", "1970-01-01 00:00:00", "2000-12-31 23:59:59.999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkFastTimestamps(t, s) })
}
