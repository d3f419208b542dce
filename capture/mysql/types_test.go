package mysql

import (
	"encoding/binary"
	"reflect"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluicehq/sluice/schemas"
)

func TestStatusQuery(t *testing.T) {
	tests := []struct{ flavor, version, want string }{
		{FlavorMySQL, "5.7.44-log", "SHOW MASTER STATUS"},
		{FlavorMySQL, "8.0.36", "SHOW MASTER STATUS"},
		{FlavorMySQL, "8.2.0", "SHOW BINARY LOG STATUS"},
		{FlavorMySQL, "8.4.3", "SHOW BINARY LOG STATUS"},
		{FlavorMySQL, "9.1.0-commercial", "SHOW BINARY LOG STATUS"},
		{FlavorMariaDB, "10.11.6-MariaDB-log", "SHOW MASTER STATUS"},
		{FlavorMariaDB, "11.4.2-MariaDB", "SHOW MASTER STATUS"},
	}
	for _, tt := range tests {
		if got := statusQuery(tt.flavor, tt.version); got != tt.want {
			t.Errorf("statusQuery(%s, %s) = %q, want %q", tt.flavor, tt.version, got, tt.want)
		}
	}
}

func TestGTIDPurgedBeyond(t *testing.T) {
	const u = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	tests := []struct {
		resume, purged string
		want           bool
	}{
		{u + ":1-100", "", false},
		{u + ":1-100", u + ":1-50", false},
		{u + ":1-100", u + ":1-101", true},
		{u + ":1-100", "4e11fa47-71ca-11e1-9e33-c80aa9429562:1", true},
	}
	for _, tt := range tests {
		got, err := gtidPurgedBeyond(tt.resume, tt.purged)
		if err != nil || got != tt.want {
			t.Errorf("gtidPurgedBeyond(%s, %s) = %v, %v; want %v", tt.resume, tt.purged, got, err, tt.want)
		}
	}
}

// Expected bytes are Java BigInteger.toByteArray() of the unscaled value.
func TestDecimalBytes(t *testing.T) {
	tests := []struct {
		in    string
		scale int
		want  []byte
	}{
		{"0", 0, []byte{0}},
		{"0.00", 2, []byte{0}},
		{"-12.34", 2, []byte{0xFB, 0x2E}},
		{"1.5", 2, []byte{0x00, 0x96}},  // 150
		{"127", 0, []byte{0x7F}},        // no sign byte needed
		{"128", 0, []byte{0x00, 0x80}},  // sign byte needed
		{"-128", 0, []byte{0x80}},       // fits one byte
		{"-129", 0, []byte{0xFF, 0x7F}}, // two bytes
		{"-0.01", 2, []byte{0xFF}},      // -1
		{"12345678901234567890.12345", 5, []byte{0x01, 0x05, 0x6E, 0x0F, 0x36, 0xA6, 0x44, 0x3D, 0xE2, 0xDF, 0x79}}, // Python int.to_bytes
	}
	for _, tt := range tests {
		got, err := decimalBytes(tt.in, tt.scale)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("decimalBytes(%q, %d) = %x, %v; want %x", tt.in, tt.scale, got, err, tt.want)
		}
	}
	if _, err := decimalBytes("1.234", 2); err == nil {
		t.Errorf("decimalBytes with too many fraction digits: no error")
	}
}

func TestParseMicroTime(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"00:00:00", 0},
		{"01:02:03.000004", 3723000004},
		{"-12:34:56", -45296000000},
		{"838:59:59", 3020399000000},
		{"-00:00:00.5", -500000},
	}
	for _, tt := range tests {
		got, err := parseMicroTime(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseMicroTime(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "12:34", "aa:bb:cc", "01:02:03.1234567"} {
		if _, err := parseMicroTime(bad); err == nil {
			t.Errorf("parseMicroTime(%q): no error", bad)
		}
	}
}

func TestParseEnumValues(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"enum('a','b','c')", []string{"a", "b", "c"}},
		{"set('x','it''s','a,b')", []string{"x", "it's", "a,b"}},
		{"enum('')", []string{""}},
	}
	for _, tt := range tests {
		if got := parseEnumValues(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseEnumValues(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestConvertUnsignedWithoutMetadata(t *testing.T) {
	// Without binlog_row_metadata, go-mysql decodes unsigned columns as
	// signed; the column's unsigned flag (from information_schema) fixes it.
	tests := []struct {
		tp   byte
		v    any
		want any
	}{
		{gomysql.MYSQL_TYPE_TINY, int8(-1), int16(255)},
		{gomysql.MYSQL_TYPE_SHORT, int16(-1), int32(65535)},
		{gomysql.MYSQL_TYPE_INT24, int32(-1), int32(16777215)},
		{gomysql.MYSQL_TYPE_LONG, int32(-1), int64(4294967295)},
		{gomysql.MYSQL_TYPE_LONGLONG, int64(-1), []byte{0, 255, 255, 255, 255, 255, 255, 255, 255}},
	}
	for _, tt := range tests {
		c, err := newColumn(tt.tp, 0, true, colInfo{name: "x", unsigned: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.convert(tt.v)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("type %d %v: got %#v, %v; want %#v", tt.tp, tt.v, got, err, tt.want)
		}
	}
}

// TestMySQLBinaryJSON decodes a hand-built MySQL 8 binlog (format
// description, table map, WRITE_ROWS v2 with a binary JSON value) with
// go-mysql's mysql-flavor parser, then maps the JSON column.
func TestMySQLBinaryJSON(t *testing.T) {
	p := replication.NewBinlogParser()
	p.SetFlavor(FlavorMySQL)
	parse := func(typ replication.EventType, body []byte) *replication.BinlogEvent {
		t.Helper()
		ev := make([]byte, 19, 19+len(body))
		binary.LittleEndian.PutUint32(ev[0:], 1700000000)
		ev[4] = byte(typ)
		binary.LittleEndian.PutUint32(ev[5:], 1)
		binary.LittleEndian.PutUint32(ev[9:], uint32(19+len(body)))
		ev = append(ev, body...)
		e, err := p.Parse(ev)
		if err != nil {
			t.Fatalf("parse %v: %v", typ, err)
		}
		return e
	}

	// FORMAT_DESCRIPTION: binlog v4, server 8.0.36, header 19, post-header
	// lengths (8 = 6-byte table ids), checksum off.
	fde := binary.LittleEndian.AppendUint16(nil, 4)
	ver := make([]byte, 50)
	copy(ver, "8.0.36")
	fde = append(fde, ver...)
	fde = binary.LittleEndian.AppendUint32(fde, 0)
	fde = append(fde, 19)
	for range 40 {
		fde = append(fde, 8)
	}
	fde = append(fde, 0, 0, 0, 0, 0) // checksum alg OFF + 4 bytes
	parse(replication.FORMAT_DESCRIPTION_EVENT, fde)

	// TABLE_MAP: table 7 = db.t (id INT NOT NULL, doc JSON NULL).
	tm := []byte{7, 0, 0, 0, 0, 0, 0, 0}
	tm = append(tm, 2, 'd', 'b', 0, 1, 't', 0)
	tm = append(tm, 2, gomysql.MYSQL_TYPE_LONG, gomysql.MYSQL_TYPE_JSON)
	tm = append(tm, 1, 4) // metadata: JSON length is 4 bytes
	tm = append(tm, 0x02) // null bitmap: doc nullable
	tmEv := parse(replication.TABLE_MAP_EVENT, tm).Event.(*replication.TableMapEvent)

	// Binary JSON {"a":1,"b":[true,"x"]}: small object.
	doc := []byte{
		0x00,       // small object
		0x02, 0x00, // 2 members
		0x1D, 0x00, // total size 29 (from the count)
		0x12, 0x00, 0x01, 0x00, // key "a" at 18, length 1
		0x13, 0x00, 0x01, 0x00, // key "b" at 19, length 1
		0x05, 0x01, 0x00, // int16 1, inline
		0x02, 0x14, 0x00, // small array at 20
		'a', 'b',
		// array at 20: count 2, size 12, entries: literal true inline, string at 10
		0x02, 0x00, 0x0C, 0x00,
		0x04, 0x01, 0x00, // literal true
		0x0C, 0x0A, 0x00, // string at 10 (relative to the array)
	}
	doc = append(doc, 0x01, 'x') // length 1, "x"
	// fix the array's and object's sizes to the real lengths
	arrLen := len(doc) - 1 - 20
	doc[1+20+2] = byte(arrLen)
	doc[3] = byte(len(doc) - 1)

	rows := []byte{7, 0, 0, 0, 0, 0, 0, 0, 2, 0} // table id, flags, extra-data length 2
	rows = append(rows, 2, 0x03)                 // 2 columns, both present
	rows = append(rows, 0x00)                    // null bitmap
	rows = binary.LittleEndian.AppendUint32(rows, 42)
	rows = binary.LittleEndian.AppendUint32(rows, uint32(len(doc)))
	rows = append(rows, doc...)
	re := parse(replication.WRITE_ROWS_EVENTv2, rows).Event.(*replication.RowsEvent)
	if len(re.Rows) != 1 {
		t.Fatalf("rows = %d, want 1", len(re.Rows))
	}

	col, err := newColumn(tmEv.ColumnType[1], tmEv.ColumnMeta[1], true, colInfo{name: "doc"})
	if err != nil {
		t.Fatal(err)
	}
	if col.Type != schemas.String || col.Semantic != schemas.SemJSON {
		t.Errorf("JSON column = %s/%s, want string/%s", col.Type, col.Semantic, schemas.SemJSON)
	}
	got, err := col.convert(re.Rows[0][1])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":1,"b":[true,"x"]}`; got != want {
		t.Errorf("JSON value = %#v, want %q", got, want)
	}
	id, _ := newColumn(tmEv.ColumnType[0], tmEv.ColumnMeta[0], false, colInfo{name: "id"})
	if v, err := id.convert(re.Rows[0][0]); err != nil || v != int32(42) {
		t.Errorf("id = %#v, %v; want int32(42)", v, err)
	}
}
