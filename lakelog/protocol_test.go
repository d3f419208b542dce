package lakelog

import (
	"errors"
	"testing"
)

// Expectations follow PROTOCOL.md §Table Features / §Writer Version
// Requirements and DELTA-NOTES §1.2.
func TestCheckReadable(t *testing.T) {
	for _, tc := range []struct {
		p       Protocol
		feature string // "" = readable
	}{
		{Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, ""},
		{Protocol{MinReaderVersion: 2, MinWriterVersion: 5}, ""}, // column mapping
		{Protocol{MinReaderVersion: 3, MinWriterVersion: 7, ReaderFeatures: []string{"deletionVectors", "columnMapping", "timestampNtz", "typeWidening", "typeWidening-preview", "v2Checkpoint", "vacuumProtocolCheck"}}, ""},
		{Protocol{MinReaderVersion: 1, MinWriterVersion: 7, WriterFeatures: []string{"somethingNew"}}, ""}, // writer-only
		{Protocol{MinReaderVersion: 3, MinWriterVersion: 7, ReaderFeatures: []string{"deletionVectors", "variantType"}}, "variantType"},
		{Protocol{MinReaderVersion: 3, MinWriterVersion: 7, ReaderFeatures: []string{"variantType-preview"}}, "variantType-preview"},
		{Protocol{MinReaderVersion: 3, MinWriterVersion: 7, ReaderFeatures: []string{"catalogManaged"}}, "catalogManaged"},
		{Protocol{MinReaderVersion: 4, MinWriterVersion: 7}, "minReaderVersion=4"},
		{Protocol{MinReaderVersion: 0, MinWriterVersion: 2}, "minReaderVersion=0"},
	} {
		err := tc.p.CheckReadable()
		if tc.feature == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.p, err)
			}
			continue
		}
		var uf *UnsupportedFeatureError
		if !errors.As(err, &uf) || uf.Feature != tc.feature || !uf.Reader {
			t.Errorf("%+v: err = %v, want reader feature %q", tc.p, err, tc.feature)
		}
	}
}

func TestCheckWritable(t *testing.T) {
	ours := []string{"appendOnly", "domainMetadata", "clustering"}
	for _, tc := range []struct {
		p       Protocol
		feature string
		reader  bool
	}{
		{Protocol{MinReaderVersion: 1, MinWriterVersion: 1}, "", false},
		{Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, "", false},
		{Protocol{MinReaderVersion: 1, MinWriterVersion: 7, WriterFeatures: []string{"appendOnly", "domainMetadata", "clustering"}}, "", false},
		{Protocol{MinReaderVersion: 1, MinWriterVersion: 7, WriterFeatures: []string{"appendOnly", "invariants"}}, "invariants", false},
		{Protocol{MinReaderVersion: 1, MinWriterVersion: 3}, "checkConstraints", false},
		{Protocol{MinReaderVersion: 1, MinWriterVersion: 4}, "checkConstraints", false},
		{Protocol{MinReaderVersion: 2, MinWriterVersion: 5}, "columnMapping", true},
		{Protocol{MinReaderVersion: 3, MinWriterVersion: 7, ReaderFeatures: []string{"deletionVectors"}, WriterFeatures: []string{"deletionVectors"}}, "deletionVectors", true},
		{Protocol{MinReaderVersion: 1, MinWriterVersion: 8}, "minWriterVersion=8", false},
	} {
		err := tc.p.CheckWritable(ours)
		if tc.feature == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.p, err)
			}
			continue
		}
		var uf *UnsupportedFeatureError
		if !errors.As(err, &uf) || uf.Feature != tc.feature || uf.Reader != tc.reader {
			t.Errorf("%+v: err = %v, want feature %q reader=%t", tc.p, err, tc.feature, tc.reader)
		}
	}
}
