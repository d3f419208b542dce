package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestHeadersJSON(t *testing.T) {
	tests := []struct {
		in   []kgo.RecordHeader
		want string
	}{
		{nil, ""},
		{[]kgo.RecordHeader{{Key: "a", Value: []byte("hi")}}, `{"a":"aGk="}`},
		{[]kgo.RecordHeader{{Key: "a", Value: nil}, {Key: `q"`, Value: []byte{}}}, `{"a":null,"q\"":""}`},
		{[]kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "a", Value: []byte("2")}, {Key: "a", Value: []byte("3")}}, `{"a":"MQ==","a#1":"Mg==","a#2":"Mw=="}`},
	}
	for _, tt := range tests {
		if got := headersJSON(tt.in); got != tt.want {
			t.Errorf("headersJSON(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzNewRawRecord: arbitrary values never panic; a value that is accepted
// as a change has a valid op and an ordering key, and its row keeps the
// value bytes.
func FuzzNewRawRecord(f *testing.F) {
	f.Add([]byte(`{"op":"c","source":{"connector":"postgresql","lsn":5,"sequence":"[\"1\",\"5\"]"},"after":{}}`))
	f.Add([]byte(`{"schema":{},"payload":{"op":"d","source":{"connector":"mysql","file":"b.000001","pos":4,"row":0}}}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"ts_ms":1}`))
	f.Fuzz(func(t *testing.T, value []byte) {
		r, _, err := newRawRecord(&kgo.Record{Topic: "t", Value: value})
		if err != nil {
			return
		}
		row := r.row("t", nowForTest, "b")
		if op, ok := row[7].(string); ok {
			if len(op) != 1 || !strings.Contains("cudrt", op) || row[12] == nil {
				t.Fatalf("accepted op %q ordering key %v", op, row[12])
			}
		}
		if value != nil && string(row[6].([]byte)) != string(value) {
			t.Fatalf("value bytes changed")
		}
	})
}

var nowForTest = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
