package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/tests/testenv"
)

// testDB creates a fresh database on the harness's MariaDB and returns a
// connection using it and its name.
func testDB(t testing.TB) (*client.Conn, string, testenv.MySQLConfig) {
	t.Helper()
	return testDBOn(t, testenv.MySQL(t))
}

// testDBOn is testDB on the server cfg.
func testDBOn(t testing.TB, cfg testenv.MySQLConfig) (*client.Conn, string, testenv.MySQLConfig) {
	t.Helper()
	conn, err := client.Connect(cfg.Addr, cfg.User, cfg.Password, "")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	db := testenv.UniqueName("cap")
	mustExec(t, conn, "CREATE DATABASE "+db)
	mustExec(t, conn, "USE "+db)
	mustExec(t, conn, "SET time_zone = '+00:00'")
	mustExec(t, conn, "SET NAMES utf8mb4")
	t.Cleanup(func() {
		_, _ = conn.Execute("DROP DATABASE " + db)
		conn.Close()
	})
	return conn, db, cfg
}

func mustExec(t testing.TB, conn *client.Conn, q string) {
	t.Helper()
	if _, err := conn.Execute(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func newSource(t testing.TB, cfg testenv.MySQLConfig, db string, mod func(*Config)) *Source {
	t.Helper()
	c := Config{
		Addr: cfg.Addr, User: cfg.User, Password: cfg.Password, Flavor: FlavorMariaDB,
		// The server ends the older of two binlog dumps with one server
		// id: unique among every package's replicas on the shared server.
		ServerID: 100000 + rand.Uint32N(1<<30), TopicPrefix: "srv",
		Include: []string{db + `\..*`},
	}
	if mod != nil {
		mod(&c)
	}
	s, err := New(context.Background(), c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// collect streams from `from` until it has n changes (or fails the test
// after a generous deadline) and returns the batches.
func collect(t testing.TB, s *Source, from string, n int) []capture.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := make(chan capture.Batch, 16)
	errc := make(chan error, 1)
	go func() { errc <- s.Stream(ctx, from, out) }()
	var batches []capture.Batch
	got := 0
	for got < n {
		select {
		case b := <-out:
			if len(b.Changes) == 0 {
				continue
			}
			batches = append(batches, b)
			got += len(b.Changes)
		case err := <-errc:
			t.Fatalf("Stream ended after %d of %d changes: %v", got, n, err)
		case <-ctx.Done():
			t.Fatalf("timeout after %d of %d changes", got, n)
		}
	}
	cancel()
	<-errc
	if got != n {
		t.Fatalf("got %d changes, want %d", got, n)
	}
	return batches
}

func startPosition(t testing.TB, s *Source) string {
	t.Helper()
	p, err := s.currentPosition()
	if err != nil {
		t.Fatalf("current position: %v", err)
	}
	return p.String()
}

// value returns change c's value of column name in the after (or, for a
// delete, before) image.
func value(t testing.TB, c schemas.Change, name string) any {
	t.Helper()
	row := c.After
	if c.Op == schemas.OpDelete {
		row = c.Before
	}
	for i, col := range c.Columns {
		if col.Name == name {
			return row[i]
		}
	}
	t.Fatalf("%s: no column %q", c.Table, name)
	return nil
}

func TestTypes(t *testing.T) {
	conn, db, cfg := testDB(t)
	s := newSource(t, cfg, db, nil)
	from := startPosition(t, s)
	mustExec(t, conn, `CREATE TABLE types (
		id INT PRIMARY KEY,
		ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
		mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
		d DECIMAL(10,2), dl DECIMAL(30,5), f FLOAT, dbl DOUBLE, b1 BIT(1), b10 BIT(10),
		vc VARCHAR(20), ch CHAR(5), lat VARCHAR(10) CHARACTER SET latin1, txt TEXT,
		bin BINARY(4), vb VARBINARY(10), bl BLOB,
		dt DATE, dtm DATETIME, dtm6 DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME, tm6 TIME(6), yr YEAR,
		j JSON, e ENUM('a','b','c'), st SET('x','y','z'))`)
	mustExec(t, conn, `INSERT INTO types VALUES (1,
		-128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
		-9223372036854775808, 18446744073709551615,
		-12.34, 123456789012345678901234.56789, 1.5, -2.25, b'1', b'1000000001',
		'héllo', 'ab', 'café', 'long text', X'0102', X'00FF', X'DEADBEEF',
		'2024-02-29', '2024-02-29 12:34:56', '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56.789',
		'-12:34:56', '01:02:03.000004', 2024, '{"a": 1}', 'b', 'z,x')`)
	mustExec(t, conn, `INSERT INTO types (id) VALUES (2)`)

	batches := collect(t, s, from, 2)
	c := batches[0].Changes[0]
	want := map[string]any{
		"id": int32(1), "ti": int16(-128), "tiu": int16(255), "si": int16(-32768), "siu": int32(65535),
		"mi": int32(-8388608), "miu": int32(16777215), "i": int32(-2147483648), "iu": int64(4294967295),
		"bi": int64(-9223372036854775808), "biu": []byte{0, 255, 255, 255, 255, 255, 255, 255, 255},
		"d": []byte{251, 46}, "dl": []byte{39, 228, 27, 50, 70, 190, 201, 177, 110, 57, 129, 21},
		"f": float32(1.5), "dbl": float64(-2.25), "b1": true, "b10": []byte{0x01, 0x02},
		"vc": "héllo", "ch": "ab", "lat": "café", "txt": "long text",
		"bin": []byte{1, 2, 0, 0}, "vb": []byte{0, 255}, "bl": []byte{0xDE, 0xAD, 0xBE, 0xEF},
		"dt": int32(19782), "dtm": int64(1709210096000), "dtm6": int64(1709210096123456),
		"ts": "2024-02-29T12:34:56.789Z", "tm": int64(-45296000000), "tm6": int64(3723000004),
		"yr": int32(2024), "j": `{"a": 1}`, "e": "b", "st": "x,z",
	}
	for name, w := range want {
		if got := value(t, c, name); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", name, got, w)
		}
	}
	wantSem := map[string]string{
		"biu": schemas.SemDecimal, "d": schemas.SemDecimal, "b10": schemas.SemBits, "dt": schemas.SemDate,
		"dtm": schemas.SemTimestamp, "dtm6": schemas.SemMicroTimestamp, "ts": schemas.SemZonedTimestamp,
		"tm": schemas.SemMicroTime, "yr": schemas.SemYear, "j": schemas.SemJSON, "e": schemas.SemEnum, "st": schemas.SemEnumSet,
	}
	for _, col := range c.Columns {
		if w, ok := wantSem[col.Name]; ok && col.Semantic != w {
			t.Errorf("%s semantic = %q, want %q", col.Name, col.Semantic, w)
		}
		switch col.Name {
		case "d":
			if col.Params["scale"] != "2" || col.Params["connect.decimal.precision"] != "10" {
				t.Errorf("d params = %v", col.Params)
			}
		case "e":
			if col.Params["allowed"] != "a,b,c" {
				t.Errorf("e allowed = %q", col.Params["allowed"])
			}
		case "b10":
			if col.Params["length"] != "10" {
				t.Errorf("b10 length = %q", col.Params["length"])
			}
		case "id":
			if col.Optional {
				t.Errorf("id is optional")
			}
		}
	}
	if !reflect.DeepEqual(c.Key, []string{"id"}) {
		t.Errorf("key = %v, want [id]", c.Key)
	}
	// The all-NULL row: every column but id is nil.
	c2 := batches[len(batches)-1].Changes[len(batches[len(batches)-1].Changes)-1]
	for i, col := range c2.Columns {
		if col.Name != "id" && c2.After[i] != nil {
			t.Errorf("row 2: %s = %#v, want nil", col.Name, c2.After[i])
		}
	}
	// Every change must encode as a Debezium envelope.
	for _, b := range batches {
		for i := range b.Changes {
			if _, err := schemas.EncodeValue(&b.Changes[i], true); err != nil {
				t.Errorf("encode: %v", err)
			}
		}
	}
}

// step is what a test expects of one change.
type step struct {
	table string
	op    schemas.Op
	id    int32
	v     any // column v of the after (or deleted) row
}

func describe(t testing.TB, c schemas.Change) step {
	t.Helper()
	return step{table: c.Table.Table, op: c.Op, id: value(t, c, "id").(int32), v: value(t, c, "v")}
}

// workload runs inserts, updates (one changing the key), deletes, a
// multi-row transaction, NULLs and an ALTER TABLE; it returns the changes
// it must produce, grouped by transaction.
func workload(t testing.TB, conn *client.Conn) [][]step {
	mustExec(t, conn, "CREATE TABLE simple (id INT PRIMARY KEY, v VARCHAR(20))")
	mustExec(t, conn, "CREATE TABLE other (id INT PRIMARY KEY, v VARCHAR(20))")
	mustExec(t, conn, "INSERT INTO simple VALUES (1, 'a')")
	mustExec(t, conn, "BEGIN")
	mustExec(t, conn, "INSERT INTO simple VALUES (2, 'b'), (3, NULL)")
	mustExec(t, conn, "INSERT INTO other VALUES (1, 'o')")
	mustExec(t, conn, "UPDATE simple SET v = 'a2' WHERE id = 1")
	mustExec(t, conn, "COMMIT")
	mustExec(t, conn, "UPDATE simple SET id = 20 WHERE id = 2")
	mustExec(t, conn, "DELETE FROM simple WHERE id = 3")
	mustExec(t, conn, "ALTER TABLE simple ADD COLUMN extra INT NOT NULL DEFAULT 7")
	mustExec(t, conn, "INSERT INTO simple VALUES (4, 'd', 8)")
	return [][]step{
		{{"simple", 'c', 1, "a"}},
		{{"simple", 'c', 2, "b"}, {"simple", 'c', 3, nil}, {"other", 'c', 1, "o"}, {"simple", 'u', 1, "a2"}},
		{{"simple", 'd', 2, "b"}, {"simple", 'c', 20, "b"}},
		{{"simple", 'd', 3, nil}},
		{{"simple", 'c', 4, "d"}},
	}
}

func TestWorkload(t *testing.T) {
	conn, db, cfg := testDB(t)
	s := newSource(t, cfg, db, nil)
	from := startPosition(t, s)
	want := workload(t, conn)
	n := 0
	for _, tx := range want {
		n += len(tx)
	}
	batches := collect(t, s, from, n)
	if len(batches) != len(want) {
		t.Fatalf("got %d batches, want %d", len(batches), len(want))
	}
	prevKey := ""
	for i, b := range batches {
		var got []step
		for _, c := range b.Changes {
			got = append(got, describe(t, c))
			if c.Source.Connector != schemas.ConnectorMariaDB || c.Source.DB != db || c.Source.Name != "srv" ||
				c.Source.GTID == "" || c.Source.ServerID != 1 || c.Source.TsMs == 0 {
				t.Errorf("batch %d: source = %+v", i, c.Source)
			}
			key, err := c.Source.OrderingKey()
			if err != nil {
				t.Fatal(err)
			}
			// A key change gives a delete and a create with the same source
			// coordinates, as Debezium does; all else strictly increases.
			if key < prevKey || key == prevKey && c.Op != schemas.OpCreate {
				t.Errorf("batch %d: ordering key %s after %s", i, key, prevKey)
			}
			prevKey = key
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("batch %d:\n got %v\nwant %v", i, got, want[i])
		}
		p, err := parsePosition(b.Position)
		if err != nil {
			t.Fatalf("batch %d position: %v", i, err)
		}
		if seq, _ := schemas.BinlogSequence(p.File); fmt.Sprintf("M%010d%020d", seq, p.Pos) <= prevKey[:31] {
			t.Errorf("batch %d: position %s is not after its changes (%s)", i, b.Position, prevKey)
		}
	}
	// The update's before image is the old row.
	upd := batches[1].Changes[3]
	if upd.Before[1] != "a" {
		t.Errorf("update before v = %#v, want \"a\"", upd.Before[1])
	}
	// After ALTER TABLE the new column is there.
	last := batches[4].Changes[0]
	if len(last.Columns) != 3 || last.Columns[2].Name != "extra" || last.After[2] != int32(8) {
		t.Errorf("after ALTER: columns %v values %v", last.Columns, last.After)
	}

	// Restart: resuming from each batch's position yields exactly the rest.
	for k := range batches[:len(batches)-1] {
		s2 := newSource(t, cfg, db, nil)
		rest := collect(t, s2, batches[k].Position, n-countChanges(batches[:k+1]))
		if rest[0].Changes[0].Source != batches[k+1].Changes[0].Source {
			t.Errorf("resume after batch %d: first change %+v, want %+v", k, rest[0].Changes[0].Source, batches[k+1].Changes[0].Source)
		}
		if len(rest) != len(batches)-k-1 {
			t.Errorf("resume after batch %d: %d batches, want %d", k, len(rest), len(batches)-k-1)
		}
	}
}

func countChanges(bs []capture.Batch) int {
	n := 0
	for _, b := range bs {
		n += len(b.Changes)
	}
	return n
}

func TestIncludeExclude(t *testing.T) {
	conn, db, cfg := testDB(t)
	s := newSource(t, cfg, db, func(c *Config) {
		c.Include = []string{db + `\.(simple|other)`}
		c.Exclude = []string{db + `\.other`}
	})
	from := startPosition(t, s)
	workload(t, conn)
	batches := collect(t, s, from, 7)
	for _, b := range batches {
		for _, c := range b.Changes {
			if c.Table.Table != "simple" {
				t.Errorf("change of excluded table %s", c.Table)
			}
		}
	}
}

func TestPositionGone(t *testing.T) {
	_, db, cfg := testDB(t)
	s := newSource(t, cfg, db, nil)
	out := make(chan capture.Batch)
	err := s.Stream(context.Background(), "binlog.000000:4", out)
	if !errors.Is(err, capture.ErrPositionLost) {
		t.Fatalf("Stream from a missing binlog file: %v, want ErrPositionLost", err)
	}
}

// TestPurgedBinlog purges binlog files, which would break other packages'
// tests streaming from the shared server at the same time: it runs on a
// private server of its own.
func TestPurgedBinlog(t *testing.T) {
	conn, db, cfg := testDBOn(t, testenv.NewPrivateMariaDB(t).Config())
	s := newSource(t, cfg, db, nil)
	from := startPosition(t, s)
	mustExec(t, conn, "CREATE TABLE p (id INT PRIMARY KEY)")
	mustExec(t, conn, "INSERT INTO p VALUES (1)")
	// MariaDB keeps a file until its binlog checkpoint says InnoDB flushed
	// it: flush and purge until the file of `from` is gone.
	fromPos, _ := parsePosition(from)
	deadline := time.Now().Add(30 * time.Second)
	for {
		mustExec(t, conn, "FLUSH BINARY LOGS")
		p, _ := s.currentPosition()
		mustExec(t, conn, "PURGE BINARY LOGS TO '"+p.File+"'")
		r, err := conn.Execute("SHOW BINARY LOGS")
		if err != nil {
			t.Fatal(err)
		}
		if first, _ := r.GetString(0, 0); first != fromPos.File {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("could not purge %s", fromPos.File)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, pos := range []string{from, strings.SplitN(from, ";", 2)[0]} {
		s2 := newSource(t, cfg, db, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := s2.Stream(ctx, pos, make(chan capture.Batch, 100))
		cancel()
		t.Logf("from %s: %v", pos, err)
		if !errors.Is(err, capture.ErrPositionLost) {
			t.Errorf("Stream from purged %s: %v, want ErrPositionLost", pos, err)
		}
	}
	// The server's own refusal (error 1236) maps too, when the pre-check
	// passes but the server cannot serve the position.
	s3 := newSource(t, cfg, db, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stale := position{File: "binlog.999999", Pos: 4}
	err := mapStreamError(stale, s3.streamRaw(ctx, stale))
	t.Logf("server refusal: %v", err)
	if !errors.Is(err, capture.ErrPositionLost) {
		t.Errorf("server refusal maps to %v, want ErrPositionLost", err)
	}
}

// streamRaw streams from p without Stream's availability check and returns
// the first error.
func (s *Source) streamRaw(ctx context.Context, p position) error {
	gset, _ := gomysql.ParseGTIDSet(s.cfg.Flavor, p.GTID)
	syncer, streamer, err := s.openStream(p, gset)
	if err != nil {
		return err
	}
	defer syncer.Close()
	for {
		if _, err := streamer.GetEvent(ctx); err != nil {
			return err
		}
	}
}
