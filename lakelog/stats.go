package lakelog

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Stats are an add action's per-file statistics (§Per-file Statistics).
// Nested columns nest as objects; with column mapping the keys are physical
// names. Values keep their JSON form: numbers are json.Number (so large
// longs and decimals are not rounded), strings are strings.
type Stats struct {
	NumRecords  int64          `json:"numRecords"`
	MinValues   map[string]any `json:"minValues,omitempty"`
	MaxValues   map[string]any `json:"maxValues,omitempty"`
	NullCount   map[string]any `json:"nullCount,omitempty"`
	TightBounds *bool          `json:"tightBounds,omitempty"`

	// HasNumRecords reports whether numRecords was present (it is optional
	// unless the file has a deletion vector).
	HasNumRecords bool `json:"-"`
}

// ParsedStats parses a.Stats. It returns (nil, nil) when the add carries no
// stats, and an error naming the file when the JSON is malformed.
func (a *Add) ParsedStats() (*Stats, error) {
	if a.Stats == "" {
		return nil, nil
	}
	s, err := ParseStats(a.Stats)
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %w", a.Path, err)
	}
	return s, nil
}

// ParseStats parses a stats JSON string.
func ParseStats(raw string) (*Stats, error) {
	var wire struct {
		NumRecords  *int64         `json:"numRecords"`
		MinValues   map[string]any `json:"minValues"`
		MaxValues   map[string]any `json:"maxValues"`
		NullCount   map[string]any `json:"nullCount"`
		TightBounds *bool          `json:"tightBounds"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.UseNumber()
	if err := dec.Decode(&wire); err != nil {
		return nil, err
	}
	s := &Stats{
		MinValues:   wire.MinValues,
		MaxValues:   wire.MaxValues,
		NullCount:   wire.NullCount,
		TightBounds: wire.TightBounds,
	}
	if wire.NumRecords != nil {
		s.NumRecords = *wire.NumRecords
		s.HasNumRecords = true
	}
	return s, nil
}

// statsNumRecords extracts only numRecords, cheaply enough to run over
// every file of a large table (Describe). ok is false when it is absent.
func statsNumRecords(raw string) (n int64, ok bool, err error) {
	if raw == "" {
		return 0, false, nil
	}
	var wire struct {
		NumRecords *int64 `json:"numRecords"`
	}
	if err := json.Unmarshal([]byte(raw), &wire); err != nil {
		return 0, false, err
	}
	if wire.NumRecords == nil {
		return 0, false, nil
	}
	return *wire.NumRecords, true, nil
}
