package mysql

import (
	"strings"
	"testing"
)

func TestParsePosition(t *testing.T) {
	tests := []struct {
		in      string
		want    position
		wantErr string
	}{
		{in: "binlog.000042:1234", want: position{File: "binlog.000042", Pos: 1234}},
		{in: "mysql-bin.000001:4;0-1-42,1-2-7", want: position{File: "mysql-bin.000001", Pos: 4, GTID: "0-1-42,1-2-7"}},
		{in: "b.000003:157;3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11-18,4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3",
			want: position{File: "b.000003", Pos: 157, GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11-18,4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3"}},
		{in: "", wantErr: "want <file>:<pos>"},
		{in: "binlog.000001", wantErr: "want <file>:<pos>"},
		{in: ":4", wantErr: "want <file>:<pos>"},
		{in: "binlog.000001:x", wantErr: "binlog offset"},
		{in: "binlog.000001:-4", wantErr: "binlog offset"},
		{in: "binlog.000001:3", wantErr: "inside the file header"},
		{in: "binlog.000001:4294967296", wantErr: "binlog offset"},
		{in: "bin log.000001:4", wantErr: "bad binlog file name"},
		{in: "binlog.000001:4;0-1-2;x", wantErr: "bad GTID set"},
	}
	for _, tt := range tests {
		got, err := parsePosition(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parsePosition(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parsePosition(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("parsePosition(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

// FuzzParsePosition: parsing never panics, and whatever parses formats back
// to a string that parses to the same position.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"binlog.000042:1234", "b.1:4;0-1-42,1-2-7", ":", ";", "a:4;", "x:99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePosition(s)
		if err != nil {
			return
		}
		q, err := parsePosition(p.String())
		if err != nil {
			t.Fatalf("%q parsed to %+v whose String %q does not parse: %v", s, p, p.String(), err)
		}
		if q != p {
			t.Fatalf("%q: round trip %+v != %+v", s, q, p)
		}
	})
}
