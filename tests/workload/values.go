package workload

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Value generators return SQL literals in the workload's dialect. They use
// only w.r, so the sequence of literals is a function of the seed.

func genInt(lo, hi int64) func(*Workload) string {
	return func(w *Workload) string {
		return strconv.FormatInt(lo+w.r.Int64N(hi-lo+1), 10)
	}
}

func genInt64(w *Workload) string {
	switch w.r.IntN(10) {
	case 0:
		return strconv.FormatInt(math.MinInt64, 10)
	case 1:
		return strconv.FormatInt(math.MaxInt64, 10)
	case 2:
		return "0"
	}
	return strconv.FormatInt(int64(w.r.Uint64()), 10)
}

// digits returns n random decimal digits.
func (w *Workload) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + w.r.IntN(10))
	}
	return string(b)
}

// genDecimal yields values of numeric(intDigits+scale, scale), written with
// all scale digits (trailing zeros included: they are significant text).
func genDecimal(intDigits, scale int) func(*Workload) string {
	return func(w *Workload) string {
		sign := ""
		if w.r.IntN(3) == 0 {
			sign = "-"
		}
		n := w.r.IntN(intDigits + 1)
		ip := strings.TrimLeft(w.digits(n), "0")
		if ip == "" {
			ip = "0"
		}
		if scale == 0 {
			return sign + ip
		}
		frac := w.digits(scale)
		if w.r.IntN(4) == 0 {
			frac = frac[:scale/2] + strings.Repeat("0", scale-scale/2)
		}
		return sign + ip + "." + frac
	}
}

// genFreeDecimal yields PostgreSQL numeric values without a declared
// scale: each value keeps its own scale, trailing zeros included.
func genFreeDecimal(w *Workload) string {
	sign := ""
	if w.r.IntN(3) == 0 {
		sign = "-"
	}
	ip := strings.TrimLeft(w.digits(w.r.IntN(30)), "0")
	if ip == "" {
		ip = "0"
	}
	s := w.r.IntN(21)
	if s == 0 {
		return sign + ip
	}
	return sign + ip + "." + w.digits(s)
}

func genFloat32(w *Workload) string {
	for {
		f := math.Float32frombits(w.r.Uint32())
		a := math.Abs(float64(f))
		if f == 0 || (a > 1e-30 && a < 1e30) {
			return "'" + strconv.FormatFloat(float64(f), 'g', -1, 32) + "'"
		}
	}
}

func genFloat64(w *Workload) string {
	for {
		f := math.Float64frombits(w.r.Uint64())
		a := math.Abs(f)
		if f == 0 || (a > 1e-300 && a < 1e300) {
			return "'" + strconv.FormatFloat(f, 'g', -1, 64) + "'"
		}
	}
}

// genShortFloat32 yields quarters below 10000 in magnitude: MariaDB prints
// FLOAT with 6 significant digits, which shows these exactly.
func genShortFloat32(w *Workload) string {
	f := float64(w.r.IntN(80000)-40000) / 4
	return strconv.FormatFloat(f, 'f', -1, 32)
}

// genShortFloat64 yields doubles of at most 13 significant digits, which
// every text rendering shows exactly.
func genShortFloat64(w *Workload) string {
	f := float64(w.r.Int64N(2_000_000_000_000)-1_000_000_000_000) / 10000
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func genBool(w *Workload) string {
	if w.r.IntN(2) == 0 {
		return "false"
	}
	return "true"
}

// textRunes mixes ASCII, quotes, backslashes, control characters and
// multi-byte UTF-8 (2, 3 and 4 bytes).
var textRunes = []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '\"\\%_\t\néßøæ日本語中文😀🚀")

func genText(minLen, maxLen int) func(*Workload) string {
	return func(w *Workload) string {
		n := minLen + w.r.IntN(maxLen-minLen+1)
		rs := make([]rune, n)
		for i := range rs {
			rs[i] = textRunes[w.r.IntN(len(textRunes))]
		}
		return w.quote(string(rs))
	}
}

const keyChars = "abcdefghijklmnopqrstuvwxyz0123456789_-"

// genKeyText yields lowercase ASCII keys (see the package invariants).
func genKeyText(w *Workload) string {
	n := 1 + w.r.IntN(20)
	b := make([]byte, n)
	for i := range b {
		b[i] = keyChars[w.r.IntN(len(keyChars))]
	}
	return w.quote(string(b))
}

func genEnum(w *Workload) string {
	return w.quote([]string{"red", "green", "blue"}[w.r.IntN(3)])
}

func genBytes(minLen, maxLen int) func(*Workload) string {
	return func(w *Workload) string {
		b := make([]byte, minLen+w.r.IntN(maxLen-minLen+1))
		for i := range b {
			b[i] = byte(w.r.UintN(256))
		}
		if w.d == MariaDB {
			return "X'" + hex.EncodeToString(b) + "'"
		}
		return `'\x` + hex.EncodeToString(b) + "'::bytea"
	}
}

// bigChars are 64 symbols: random text over them compresses to about 75%,
// so a 9 KB value stays above PostgreSQL's TOAST threshold after
// compression and is stored out of line.
const bigChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"

func genBig(w *Workload) string {
	b := make([]byte, 9000+w.r.IntN(11000))
	for i := range b {
		b[i] = bigChars[w.r.IntN(len(bigChars))]
	}
	return "'" + string(b) + "'"
}

var (
	minTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
)

func (w *Workload) instant(lo, hi int64) time.Time {
	// A fifth of the values sit near the epoch, where sign bugs live.
	if w.r.IntN(5) == 0 {
		return time.UnixMicro(w.r.Int64N(2*86_400_000_000) - 86_400_000_000).UTC()
	}
	return time.UnixMicro(lo + w.r.Int64N(hi-lo)).UTC()
}

func genDate(w *Workload) string {
	return "'" + w.instant(minTime, maxTime).Format("2006-01-02") + "'"
}

func genTimestamp(w *Workload) string {
	return "'" + w.instant(minTime, maxTime).Format("2006-01-02 15:04:05.000000") + "'"
}

func genTimestampSeconds(w *Workload) string {
	return "'" + w.instant(minTime, maxTime).Format("2006-01-02 15:04:05") + "'"
}

// genTimestampTz writes an instant with a random UTC offset, so the value
// must be normalised to UTC somewhere on the way.
func genTimestampTz(w *Workload) string {
	off := (w.r.IntN(57) - 28) * 30 * 60 // -14:00 … +14:00 in half hours
	t := w.instant(minTime, maxTime).In(time.FixedZone("", off))
	return "'" + t.Format("2006-01-02 15:04:05.000000-07:00") + "'"
}

// genMariaTimestamp yields instants inside MariaDB's TIMESTAMP range,
// written in UTC: the session must run with time_zone = '+00:00'.
func genMariaTimestamp(w *Workload) string {
	lo := time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	hi := time.Date(2037, 12, 31, 0, 0, 0, 0, time.UTC).UnixMicro()
	return "'" + time.UnixMicro(lo+w.r.Int64N(hi-lo)).UTC().Format("2006-01-02 15:04:05.000000") + "'"
}

func genTime(w *Workload) string {
	us := w.r.Int64N(86_400_000_000)
	t := time.UnixMicro(us).UTC()
	return "'" + t.Format("15:04:05.000000") + "'"
}

func genUUID(w *Workload) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(w.r.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("'%s-%s-%s-%s-%s'", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

// genJSON yields a small random document. Numbers are integers or plain
// decimals (no exponents), which jsonb keeps as written.
func genJSON(w *Workload) string {
	data, err := json.Marshal(w.jsonValue(0))
	if err != nil {
		panic(err) // only maps, slices, strings, numbers: cannot fail
	}
	return w.quote(string(data))
}

func (w *Workload) jsonValue(depth int) any {
	k := w.r.IntN(8)
	if depth == 0 {
		k = 7
	} else if depth > 2 && k >= 6 {
		k = w.r.IntN(6)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return w.r.IntN(2) == 0
	case 2:
		return json.Number(strconv.FormatInt(w.r.Int64N(1<<53)-(1<<52), 10))
	case 3:
		return json.Number(fmt.Sprintf("%d.%d5", w.r.IntN(100000)-50000, w.r.IntN(100)))
	case 4, 5:
		rs := make([]rune, w.r.IntN(12))
		for i := range rs {
			rs[i] = textRunes[w.r.IntN(len(textRunes))]
		}
		return string(rs)
	case 6:
		a := make([]any, w.r.IntN(4))
		for i := range a {
			a[i] = w.jsonValue(depth + 1)
		}
		return a
	default:
		m := map[string]any{}
		for range w.r.IntN(5) {
			m[string(keyChars[w.r.IntN(26)])+strconv.Itoa(w.r.IntN(10))] = w.jsonValue(depth + 1)
		}
		return m
	}
}

// quote returns s as a string literal of the dialect.
func (w *Workload) quote(s string) string {
	if w.d == MariaDB {
		s = strings.ReplaceAll(s, `\`, `\\`)
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
