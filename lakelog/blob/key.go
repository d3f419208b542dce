package blob

import (
	"fmt"
	"strings"
)

// ValidateKey reports whether key is a valid object key: non-empty,
// relative, slash-separated, with no empty, "." or ".." segments and no NUL
// byte. Every Store rejects invalid keys with an error naming the key, so a
// key that works on one backend works on all of them (and can never escape a
// fileblob root).
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("invalid key %q: empty", key)
	}
	if strings.IndexByte(key, 0) >= 0 {
		return fmt.Errorf("invalid key %q: contains NUL", key)
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("invalid key %q: absolute", key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("invalid key %q: empty segment", key)
		case ".", "..":
			return fmt.Errorf("invalid key %q: %q segment", key, seg)
		}
	}
	return nil
}

// ValidatePrefix reports whether prefix may be passed to List: its
// directory part (up to the last slash) must be a valid key or empty; the
// rest is a partial segment matched lexically ("a/b" matches "a/bc").
func ValidatePrefix(prefix string) error {
	if strings.IndexByte(prefix, 0) >= 0 {
		return fmt.Errorf("invalid prefix %q: contains NUL", prefix)
	}
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return nil
	}
	if err := ValidateKey(prefix[:i]); err != nil {
		return fmt.Errorf("invalid prefix %q: %w", prefix, err)
	}
	return nil
}
