package dv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
)

// This file is the portable 64-bit RoaringBitmap layout over sorted
// positions. Containers hold the low 16 bits of up to 65536 values that
// share their high 48 bits.

const (
	cookieNoRun     = 12346 // SERIAL_COOKIE_NO_RUNCONTAINER
	cookieRun       = 12347 // SERIAL_COOKIE (low 16 bits; high 16 bits: size-1)
	noOffsetMinSize = 4     // with a run cookie, offsets are written from 4 containers on
	arrayMaxCard    = 4096  // larger containers are bitmaps
	bitmapBytes     = 8192
)

// ErrCorrupt is wrapped by every decoding error about the bytes themselves.
var ErrCorrupt = errors.New("corrupt deletion vector")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// DecodeBitmap decodes a portable 64-bit RoaringBitmap (without the magic)
// into sorted positions. It fails, rather than allocating, when the bitmap
// holds more than limit positions.
func DecodeBitmap(b []byte, limit uint64) ([]uint64, error) {
	if len(b) < 8 {
		return nil, corrupt("%d bytes, want at least 8", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	b = b[8:]
	// Each bucket takes at least 4 (key) + 8 (cookie, size) bytes.
	if n > uint64(len(b))/12+1 {
		return nil, corrupt("%d buckets in %d bytes", n, len(b))
	}
	var out []uint64
	var prevHigh int64 = -1
	for i := range n {
		if len(b) < 4 {
			return nil, corrupt("bucket %d: truncated", i)
		}
		high := binary.LittleEndian.Uint32(b)
		if int64(high) <= prevHigh {
			return nil, corrupt("bucket %d: key %d not ascending", i, high)
		}
		prevHigh = int64(high)
		var err error
		var used int
		out, used, err = decode32(b[4:], uint64(high)<<32, out, limit)
		if err != nil {
			return nil, fmt.Errorf("bucket %d: %w", i, err)
		}
		b = b[4+used:]
	}
	return out, nil
}

// decode32 appends the values of one portable 32-bit bitmap, each or'ed
// with base, to out and returns the bytes it used.
func decode32(b []byte, base uint64, out []uint64, limit uint64) ([]uint64, int, error) {
	start := len(b)
	if len(b) < 4 {
		return nil, 0, corrupt("truncated cookie")
	}
	cookie := binary.LittleEndian.Uint32(b)
	b = b[4:]
	var size int
	var runs []byte
	switch {
	case cookie&0xffff == cookieRun:
		size = int(cookie>>16) + 1
		nb := (size + 7) / 8
		if len(b) < nb {
			return nil, 0, corrupt("truncated run bitmap")
		}
		runs, b = b[:nb], b[nb:]
	case cookie == cookieNoRun:
		if len(b) < 4 {
			return nil, 0, corrupt("truncated size")
		}
		s := binary.LittleEndian.Uint32(b)
		if s > 1<<16 {
			return nil, 0, corrupt("%d containers", s)
		}
		size, b = int(s), b[4:]
	default:
		return nil, 0, corrupt("unknown cookie %d", cookie)
	}
	if len(b) < 4*size {
		return nil, 0, corrupt("truncated container headers")
	}
	headers := b[:4*size]
	b = b[4*size:]
	if runs == nil || size >= noOffsetMinSize {
		if len(b) < 4*size {
			return nil, 0, corrupt("truncated container offsets")
		}
		b = b[4*size:] // containers follow in order; offsets are not needed
	}
	prevKey := -1
	for c := range size {
		key := int(binary.LittleEndian.Uint16(headers[4*c:]))
		card := int(binary.LittleEndian.Uint16(headers[4*c+2:])) + 1
		if key <= prevKey {
			return nil, 0, corrupt("container %d: key %d not ascending", c, key)
		}
		prevKey = key
		hi := base | uint64(key)<<16
		isRun := runs != nil && runs[c/8]&(1<<(c%8)) != 0
		if uint64(len(out))+uint64(card) > limit && !isRun {
			return nil, 0, fmt.Errorf("%w: more than %d positions", ErrCorrupt, limit)
		}
		before := len(out)
		switch {
		case isRun:
			if len(b) < 2 {
				return nil, 0, corrupt("container %d: truncated run count", c)
			}
			nr := int(binary.LittleEndian.Uint16(b))
			b = b[2:]
			if len(b) < 4*nr {
				return nil, 0, corrupt("container %d: truncated runs", c)
			}
			next := 0
			for r := range nr {
				s := int(binary.LittleEndian.Uint16(b[4*r:]))
				l := int(binary.LittleEndian.Uint16(b[4*r+2:]))
				if s < next || s+l > 0xffff {
					return nil, 0, corrupt("container %d: run %d out of order", c, r)
				}
				if uint64(len(out))+uint64(l)+1 > limit {
					return nil, 0, fmt.Errorf("%w: more than %d positions", ErrCorrupt, limit)
				}
				for v := s; v <= s+l; v++ {
					out = append(out, hi|uint64(v))
				}
				next = s + l + 1
			}
			b = b[4*nr:]
		case card <= arrayMaxCard:
			if len(b) < 2*card {
				return nil, 0, corrupt("container %d: truncated array", c)
			}
			prev := -1
			for i := range card {
				v := int(binary.LittleEndian.Uint16(b[2*i:]))
				if v <= prev {
					return nil, 0, corrupt("container %d: array not ascending", c)
				}
				prev = v
				out = append(out, hi|uint64(v))
			}
			b = b[2*card:]
		default:
			if len(b) < bitmapBytes {
				return nil, 0, corrupt("container %d: truncated bitmap", c)
			}
			for w := range bitmapBytes / 8 {
				word := binary.LittleEndian.Uint64(b[8*w:])
				for word != 0 {
					t := bits.TrailingZeros64(word)
					out = append(out, hi|uint64(w*64+t))
					word &= word - 1
				}
			}
			b = b[bitmapBytes:]
		}
		if !isRun && len(out)-before != card {
			return nil, 0, corrupt("container %d: %d values, header says %d", c, len(out)-before, card)
		}
	}
	return out, start - len(b), nil
}

// EncodeBitmap serializes sorted, distinct positions as a portable 64-bit
// RoaringBitmap (without the magic), using array and bitmap containers.
func EncodeBitmap(pos []uint64) []byte {
	var buckets [][]uint64
	for i := 0; i < len(pos); {
		j := i + 1
		for j < len(pos) && pos[j]>>32 == pos[i]>>32 {
			j++
		}
		buckets = append(buckets, pos[i:j])
		i = j
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(buckets)))
	for _, bk := range buckets {
		out = binary.LittleEndian.AppendUint32(out, uint32(bk[0]>>32))
		out = encode32(out, bk)
	}
	return out
}

// encode32 appends the portable 32-bit bitmap of vals (same high 32 bits).
func encode32(out []byte, vals []uint64) []byte {
	var conts [][]uint64
	for i := 0; i < len(vals); {
		j := i + 1
		for j < len(vals) && vals[j]>>16 == vals[i]>>16 {
			j++
		}
		conts = append(conts, vals[i:j])
		i = j
	}
	start := len(out)
	out = binary.LittleEndian.AppendUint32(out, cookieNoRun)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(conts)))
	for _, c := range conts {
		out = binary.LittleEndian.AppendUint16(out, uint16(c[0]>>16))
		out = binary.LittleEndian.AppendUint16(out, uint16(len(c)-1))
	}
	off := len(out) - start + 4*len(conts)
	for _, c := range conts {
		out = binary.LittleEndian.AppendUint32(out, uint32(off))
		if len(c) <= arrayMaxCard {
			off += 2 * len(c)
		} else {
			off += bitmapBytes
		}
	}
	for _, c := range conts {
		if len(c) <= arrayMaxCard {
			for _, v := range c {
				out = binary.LittleEndian.AppendUint16(out, uint16(v))
			}
			continue
		}
		var words [bitmapBytes / 8]uint64
		for _, v := range c {
			lo := v & 0xffff
			words[lo/64] |= 1 << (lo % 64)
		}
		for _, w := range words {
			out = binary.LittleEndian.AppendUint64(out, w)
		}
	}
	return out
}

// Union returns the sorted, distinct positions of a and b (both sorted).
func Union(a, b []uint64) []uint64 {
	out := make([]uint64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return slices.Clip(out)
}
