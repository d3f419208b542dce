package lakelog

import (
	"strings"
	"testing"
)

func refOf[T any](v T) *T { return &v }

// The expected lines follow PROTOCOL.md's examples and field names; they
// were written by hand.
func TestMarshalLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    Action
		want string
	}{
		{"protocol legacy", Action{Protocol: &Protocol{MinReaderVersion: 1, MinWriterVersion: 2}},
			`{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}`},
		{"protocol writer 7 lists writerFeatures", Action{Protocol: &Protocol{MinReaderVersion: 1, MinWriterVersion: 7, WriterFeatures: []string{"appendOnly"}}},
			`{"protocol":{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["appendOnly"]}}`},
		{"protocol 3/7 with empty lists", Action{Protocol: &Protocol{MinReaderVersion: 3, MinWriterVersion: 7}},
			`{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":[],"writerFeatures":[]}}`},
		{"metadata fills required collections", Action{MetaData: &Metadata{ID: "x", SchemaString: `{"type":"struct","fields":[]}`}},
			`{"metaData":{"id":"x","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[]}","partitionColumns":[],"configuration":{}}}`},
		{"add", Action{Add: &Add{Path: "a<b>.parquet", Size: 3, ModificationTime: 4, DataChange: true, Stats: `{"numRecords":1}`}},
			`{"add":{"path":"a<b>.parquet","partitionValues":{},"size":3,"modificationTime":4,"dataChange":true,"stats":"{\"numRecords\":1}"}}`},
		{"add with null partition value and dv", Action{Add: &Add{Path: "p", PartitionValues: map[string]*string{"d": nil},
			DeletionVector: &DeletionVector{StorageType: "u", PathOrInlineDv: "ab", Offset: refOf(int32(1)), SizeInBytes: 36, Cardinality: 2}}},
			`{"add":{"path":"p","partitionValues":{"d":null},"size":0,"modificationTime":0,"dataChange":false,"deletionVector":{"storageType":"u","pathOrInlineDv":"ab","offset":1,"sizeInBytes":36,"cardinality":2}}}`},
		{"remove", Action{Remove: &Remove{Path: "p", DeletionTimestamp: refOf(int64(9)), DataChange: true, ExtendedFileMetadata: refOf(true), Size: refOf(int64(3))}},
			`{"remove":{"path":"p","deletionTimestamp":9,"dataChange":true,"extendedFileMetadata":true,"size":3}}`},
		{"txn", Action{Txn: &SetTransaction{AppID: "app-t-0", Version: 7}}, `{"txn":{"appId":"app-t-0","version":7}}`},
		{"domain", Action{DomainMetadata: &DomainMetadata{Domain: "delta.clustering", Configuration: "{}"}},
			`{"domainMetadata":{"domain":"delta.clustering","configuration":"{}","removed":false}}`},
		{"commitInfo", Action{CommitInfo: map[string]any{"operation": "WRITE"}}, `{"commitInfo":{"operation":"WRITE"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.a.MarshalLine()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestMarshalLineRefusesBadActions(t *testing.T) {
	if _, err := (&Action{}).MarshalLine(); err == nil {
		t.Error("empty action: no error")
	}
	if _, err := (&Action{Add: &Add{Path: "a"}, Remove: &Remove{Path: "a"}}).MarshalLine(); err == nil {
		t.Error("two fields: no error")
	}
}

func TestEncodeDecodeCommit(t *testing.T) {
	in := []Action{
		{CommitInfo: map[string]any{"operation": "WRITE"}},
		{Add: &Add{Path: "a", PartitionValues: map[string]*string{"k": refOf("v")}, Size: 1, DataChange: true}},
		{Txn: &SetTransaction{AppID: "x", Version: 2, LastUpdated: refOf(int64(5))}},
	}
	data, err := EncodeCommit(in)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 3 || !strings.HasSuffix(string(data), "\n") {
		t.Fatalf("want 3 newline-terminated lines, got %q", data)
	}
	out, err := DecodeCommit(append(data, []byte("\n{\"futureAction\":{}}\n")...))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 {
		t.Fatalf("decoded %d actions, want 3 (unknown action skipped)", len(out))
	}
	if got := out[1].Add; got == nil || got.Path != "a" || *got.PartitionValues["k"] != "v" || got.Size != 1 || !got.DataChange {
		t.Errorf("add = %+v", got)
	}
	if got := out[2].Txn; got == nil || got.AppID != "x" || got.Version != 2 || *got.LastUpdated != 5 {
		t.Errorf("txn = %+v", got)
	}
	if out[0].CommitInfo["operation"] != "WRITE" {
		t.Errorf("commitInfo = %v", out[0].CommitInfo)
	}
}

func TestDecodeCommitNamesBadLine(t *testing.T) {
	_, err := DecodeCommit([]byte("{\"txn\":{\"appId\":\"a\",\"version\":1}}\n{not json\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("err = %v, want one naming line 2", err)
	}
}

// Unique ids follow §Deletion Vectors: storageType + pathOrInlineDv [+ "@" offset].
func TestFileKey(t *testing.T) {
	a := &Add{Path: "p", DeletionVector: &DeletionVector{StorageType: "u", PathOrInlineDv: "ab^-aqEH.-t@S}K{vb[*k^", Offset: refOf(int32(4))}}
	if got, want := a.Key(), (FileKey{Path: "p", DVID: "uab^-aqEH.-t@S}K{vb[*k^@4"}); got != want {
		t.Errorf("key = %+v, want %+v", got, want)
	}
	r := &Remove{Path: "file:///x/y"}
	if got, want := r.Key(), (FileKey{Path: "/x/y"}); got != want {
		t.Errorf("canonical key = %+v, want %+v", got, want)
	}
	if got, want := (&Add{Path: "x"}).Key(), (FileKey{Path: "x"}); got != want {
		t.Errorf("key = %+v, want %+v", got, want)
	}
}

func TestDecodedPath(t *testing.T) {
	for in, want := range map[string]string{
		"special%20p@%23h": "special p@#h",
		"as_timestamp=2021-09-08%2011%253A11%253A11/part.parquet": "as_timestamp=2021-09-08 11%3A11%3A11/part.parquet",
		"a+b.parquet": "a+b.parquet",
	} {
		got, err := (&Add{Path: in}).DecodedPath()
		if err != nil || got != want {
			t.Errorf("DecodedPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := (&Add{Path: "bad%zz"}).DecodedPath(); err == nil {
		t.Error("bad escape: no error")
	}
}

func TestParsedStats(t *testing.T) {
	a := &Add{Path: "p", Stats: `{"numRecords":3,"minValues":{"id":1,"s":{"x":"a"}},"maxValues":{"id":12345678901234567890},"nullCount":{"id":0},"tightBounds":true}`}
	s, err := a.ParsedStats()
	if err != nil {
		t.Fatal(err)
	}
	if s.NumRecords != 3 || !s.HasNumRecords || s.TightBounds == nil || !*s.TightBounds {
		t.Errorf("stats = %+v", s)
	}
	if got := s.MaxValues["id"]; got == nil || got.(interface{ String() string }).String() != "12345678901234567890" {
		t.Errorf("max id = %v, want the exact number", got)
	}
	if s, err := (&Add{}).ParsedStats(); s != nil || err != nil {
		t.Errorf("no stats: %v, %v", s, err)
	}
	if _, err := (&Add{Path: "p", Stats: "{"}).ParsedStats(); err == nil || !strings.Contains(err.Error(), "p") {
		t.Errorf("bad stats: err = %v, want one naming the file", err)
	}
	s, err = (&Add{Stats: `{"minValues":{}}`}).ParsedStats()
	if err != nil || s.HasNumRecords {
		t.Errorf("stats without numRecords: %+v, %v", s, err)
	}
}

func FuzzDecodeCommit(f *testing.F) {
	f.Add([]byte(`{"add":{"path":"a","partitionValues":{},"size":1,"modificationTime":1,"dataChange":true}}`))
	f.Add([]byte("{\"txn\":{\"appId\":\"a\",\"version\":1}}\n\n{\"remove\":{\"path\":\"a\"}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		actions, err := DecodeCommit(data)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode and decode to the same count.
		enc, err := EncodeCommit(actions)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := DecodeCommit(enc)
		if err != nil || len(again) != len(actions) {
			t.Fatalf("round trip: %d actions, err %v; want %d", len(again), err, len(actions))
		}
	})
}
