package lakelog

import (
	"errors"
	"fmt"
	"strings"
)

// This file maps deletion-vector descriptors (§Deletion Vectors) to where
// their bitmap lives. Decoding and encoding the bitmaps is lakelog/dv's;
// this file is here so that Vacuum can keep the DV files live adds name.

// Deletion-vector storage types.
const (
	DVStorageRelative = "u" // <random prefix><Z85 UUID>, a file under the table root
	DVStorageInline   = "i" // Z85 of the serialized bitmap, in the log
	DVStorageAbsolute = "p" // an absolute path
)

// FeatureDeletionVectors is the reader+writer table feature of deletion
// vectors; tables that write them also set delta.enableDeletionVectors.
const FeatureDeletionVectors = "deletionVectors"

// dvUUIDLen is the length of the Z85 encoding of a 16-byte UUID.
const dvUUIDLen = 20

// StoreKey returns the store key, relative to the table root, of the file
// holding the deletion vector: <prefix>/deletion_vector_<uuid>.bin for
// storage type "u". Inline DVs have no file (""). Absolute paths ("p") are
// an error: lakelog cannot prove they lie under the table root.
func (d *DeletionVector) StoreKey() (string, error) {
	if d == nil {
		return "", nil
	}
	switch d.StorageType {
	case DVStorageInline:
		return "", nil
	case DVStorageRelative:
		p := d.PathOrInlineDv
		if len(p) < dvUUIDLen {
			return "", fmt.Errorf("deletion vector %q: relative path shorter than %d characters", p, dvUUIDLen)
		}
		prefix, enc := p[:len(p)-dvUUIDLen], p[len(p)-dvUUIDLen:]
		raw, err := Z85Decode(enc)
		if err != nil {
			return "", fmt.Errorf("deletion vector %q: uuid: %w", p, err)
		}
		name := "deletion_vector_" + formatUUID(raw) + ".bin"
		if prefix == "" {
			return name, nil
		}
		return strings.TrimSuffix(prefix, "/") + "/" + name, nil
	case DVStorageAbsolute:
		return "", fmt.Errorf("deletion vector %q: absolute path: %w", d.PathOrInlineDv, errUnmappedReference)
	default:
		return "", fmt.Errorf("deletion vector: unknown storage type %q", d.StorageType)
	}
}

// RelativeDV returns the pathOrInlineDv of a "u" descriptor for the 16-byte
// uuid under prefix ("" for the table root), and the store key of its file.
func RelativeDV(prefix string, uuid [16]byte) (pathOrInlineDv, key string) {
	enc := Z85Encode(uuid[:])
	name := "deletion_vector_" + formatUUID(uuid[:]) + ".bin"
	if prefix != "" {
		name = prefix + "/" + name
	}
	return prefix + enc, name
}

func formatUUID(b []byte) string {
	const hex = "0123456789abcdef"
	var s strings.Builder
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s.WriteByte('-')
		}
		s.WriteByte(hex[c>>4])
		s.WriteByte(hex[c&15])
	}
	return s.String()
}

// z85 is the ZeroMQ Base-85 alphabet (RFC 32/Z85) Delta uses for DV
// UUIDs and inline bitmaps.
const z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

var z85Index = func() (t [256]int16) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(z85) {
		t[z85[i]] = int16(i)
	}
	return t
}()

// Z85Encode encodes b, zero-padded to a multiple of 4 bytes as Delta's
// Base85Codec does; the decoder's caller knows the true length.
func Z85Encode(b []byte) string {
	var out strings.Builder
	for i := 0; i < len(b); i += 4 {
		var v uint32
		for j := range 4 {
			v <<= 8
			if i+j < len(b) {
				v |= uint32(b[i+j])
			}
		}
		var chunk [5]byte
		for j := 4; j >= 0; j-- {
			chunk[j] = z85[v%85]
			v /= 85
		}
		out.Write(chunk[:])
	}
	return out.String()
}

var errZ85 = errors.New("invalid Z85")

// Z85Decode decodes s, whose length must be a multiple of 5.
func Z85Decode(s string) ([]byte, error) {
	if len(s)%5 != 0 {
		return nil, fmt.Errorf("%w: length %d is not a multiple of 5", errZ85, len(s))
	}
	out := make([]byte, 0, len(s)/5*4)
	for i := 0; i < len(s); i += 5 {
		var v uint64
		for j := range 5 {
			d := z85Index[s[i+j]]
			if d < 0 {
				return nil, fmt.Errorf("%w: character %q", errZ85, s[i+j])
			}
			v = v*85 + uint64(d)
		}
		if v > 0xffffffff {
			return nil, fmt.Errorf("%w: group %q overflows", errZ85, s[i:i+5])
		}
		out = append(out, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return out, nil
}
