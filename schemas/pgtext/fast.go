package pgtext

// Fast paths for the text forms a snapshot's COPY and pgoutput send for
// the most common types, in the session settings sluice uses (TimeZone
// UTC, DateStyle ISO): fixed-layout parsing with no pgtype value, no
// big.Int and no time.Time formatting. Each returns ok = false for any
// input outside its narrow layout (BC dates, 5-digit years, other zone
// offsets, NaN, more than 18 digits, out-of-range fields), and the caller
// then takes the general pgtype path, so the results are always the
// general path's (FuzzFastPaths checks that).

// digits2 reads two ASCII digits.
func digits2(s string) (int, bool) {
	a, b := s[0]-'0', s[1]-'0'
	if a > 9 || b > 9 {
		return 0, false
	}
	return int(a)*10 + int(b), true
}

// civilDate reads "YYYY-MM-DD" (a 4-digit year from 0001 AD, a real
// calendar date; PostgreSQL writes year 0 as "0001 BC") as
// days since 1970-01-01.
func civilDate(s string) (int64, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	hi, ok1 := digits2(s[0:2])
	lo, ok2 := digits2(s[2:4])
	m, ok3 := digits2(s[5:7])
	d, ok4 := digits2(s[8:10])
	if !ok1 || !ok2 || !ok3 || !ok4 || hi+lo == 0 || m < 1 || m > 12 || d < 1 || d > daysIn(hi*100+lo, m) {
		return 0, false
	}
	return daysFromCivil(int64(hi*100+lo), m, d), true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is Howard Hinnant's days_from_civil (proleptic Gregorian,
// as PostgreSQL and Go's time package count).
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// clockMicros reads "HH:MM:SS[.f…]" (hours 0-23, at most 6 fraction
// digits) at the start of s as µs past midnight; it returns the rest of s
// and the fraction's digits.
func clockMicros(s string) (us int64, frac, rest string, ok bool) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, "", "", false
	}
	h, ok1 := digits2(s[0:2])
	m, ok2 := digits2(s[3:5])
	sec, ok3 := digits2(s[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 59 {
		return 0, "", "", false
	}
	us = (int64(h)*3600 + int64(m)*60 + int64(sec)) * 1_000_000
	rest = s[8:]
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		frac = rest[1:i]
		if len(frac) == 0 || len(frac) > 6 {
			return 0, "", "", false
		}
		var f int64
		for j := 0; j < 6; j++ {
			f *= 10
			if j < len(frac) {
				f += int64(frac[j] - '0')
			}
		}
		us += f
		rest = rest[i:]
	}
	return us, frac, rest, true
}

// fastTimestamp reads "YYYY-MM-DD HH:MM:SS[.ffffff]" as µs since the
// epoch.
func fastTimestamp(s string) (int64, bool) {
	if len(s) < 19 || s[10] != ' ' {
		return 0, false
	}
	days, ok := civilDate(s[:10])
	if !ok {
		return 0, false
	}
	us, _, rest, ok := clockMicros(s[11:])
	if !ok || rest != "" {
		return 0, false
	}
	return days*86_400_000_000 + us, true
}

// fastTimestamptz formats "YYYY-MM-DD HH:MM:SS[.ffffff]+00" (a UTC
// session's output) as decodeTimestamptz does: ISO-8601 with 'T', the
// fraction without trailing zeros, "Z".
func fastTimestamptz(s string) (string, bool) {
	if len(s) < 22 || s[10] != ' ' {
		return "", false
	}
	if _, ok := civilDate(s[:10]); !ok {
		return "", false
	}
	_, frac, rest, ok := clockMicros(s[11:])
	if !ok || rest != "+00" {
		return "", false
	}
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	var buf [32]byte
	b := append(buf[:0], s[:10]...)
	b = append(b, 'T')
	b = append(b, s[11:19]...)
	if frac != "" {
		b = append(b, '.')
		b = append(b, frac...)
	}
	b = append(b, 'Z')
	return string(b), true
}

// fastDecimal reads numeric text ("-123.45") with at most scale fraction
// digits and at most 18 digits in all as the unscaled value at scale, in
// Connect Decimal bytes.
func fastDecimal(s string, scale int32) ([]byte, bool) {
	if scale < 0 || scale > 18 {
		return nil, false
	}
	i := 0
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		i++
	}
	var n int64
	digits, fracDigits := 0, -1
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + int64(c-'0')
			digits++
			if fracDigits >= 0 {
				fracDigits++
			}
		case c == '.' && fracDigits < 0:
			fracDigits = 0
		default:
			return nil, false
		}
		if digits > 18 {
			return nil, false
		}
	}
	// PostgreSQL writes at least one digit on each side of the point.
	if digits == 0 || fracDigits == 0 || digits == fracDigits {
		return nil, false
	}
	fracDigits = max(fracDigits, 0)
	if int32(fracDigits) > scale || digits+int(scale)-fracDigits > 18 {
		return nil, false
	}
	for range int(scale) - fracDigits {
		n *= 10
	}
	if neg {
		n = -n
	}
	return int64TwosComplement(n), true
}

// int64TwosComplement is Java's BigInteger.valueOf(n).toByteArray(): the
// shortest big-endian two's complement.
func int64TwosComplement(n int64) []byte {
	size := 8
	for size > 1 {
		top := n >> (8*(size-1) - 1) // the dropped byte and the next byte's sign bit
		if top != 0 && top != -1 {
			break
		}
		size--
	}
	out := make([]byte, size)
	for i := size - 1; i >= 0; i-- {
		out[i] = byte(n)
		n >>= 8
	}
	return out
}
