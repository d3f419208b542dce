package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/tests/testenv"
)

// TestStatusCapturePositionPostgres: status reports a slot's confirmed
// position and the WAL it retains, checked against pg_replication_slots and
// the WAL the test itself wrote; a missing slot and a MariaDB source get an
// error each, never a failed status.
func TestStatusCapturePositionPostgres(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	slot := testenv.UniqueName("status_slot")
	var createLSN string
	if err := conn.QueryRow(ctx, `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`, slot).Scan(&createLSN); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), `SELECT pg_drop_replication_slot($1)`, slot) })
	table := testenv.UniqueName("status_wal")
	for _, sql := range []string{
		fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, note text)`, table),
		fmt.Sprintf(`INSERT INTO %s SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g`, table),
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	var written int64
	if err := conn.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint`, createLSN).Scan(&written); err != nil {
		t.Fatal(err)
	}
	var confirmed string
	if err := conn.QueryRow(ctx, `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&confirmed); err != nil {
		t.Fatal(err)
	}

	cfg, err := ParseConfig([]byte(fmt.Sprintf(`
warehouse: %s
sources:
  - {name: pg, type: postgres, dsn: '${ST_DSN}', slot: %s}
  - {name: gone, type: postgres, dsn: '${ST_DSN}', slot: %s_missing}
  - {name: maria, type: mariadb, addr: '127.0.0.1:1', user: root, server_id: 77}
`, filepath.Join(t.TempDir(), "lake"), slot, slot)), func(k string) (string, bool) { return dsn, k == "ST_DSN" })
	if err != nil {
		t.Fatal(err)
	}
	st, err := GetStatus(ctx, cfg, tcLogger())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Captures) != 3 {
		t.Fatalf("captures = %+v, want 3", st.Captures)
	}
	pg := st.Captures[0]
	if pg.Error != "" || pg.Slot != slot || pg.SlotActive == nil || *pg.SlotActive {
		t.Errorf("pg capture = %+v, want slot %s, inactive, no error", pg, slot)
	}
	if pg.ConfirmedFlushLSN != confirmed {
		t.Errorf("confirmed_flush_lsn = %q, want %q", pg.ConfirmedFlushLSN, confirmed)
	}
	// restart_lsn <= the creation LSN and the current LSN >= what the test
	// wrote up to, so the slot retains at least that much.
	if pg.RetainedWALBytes == nil || *pg.RetainedWALBytes < written || written <= 0 {
		t.Errorf("retained WAL = %v, want >= %d (written since the slot was created)", optionalInt(pg.RetainedWALBytes), written)
	}
	if pg.LagBytes == nil || *pg.LagBytes < written {
		t.Errorf("lag = %v, want >= %d (nothing confirmed since creation)", optionalInt(pg.LagBytes), written)
	}
	if gone := st.Captures[1]; !strings.Contains(gone.Error, slot+"_missing does not exist") {
		t.Errorf("missing slot error = %q, want it to name the slot", gone.Error)
	}
	if maria := st.Captures[2]; maria.Type != "mariadb" || maria.Error == "" {
		t.Errorf("mariadb capture = %+v, want an error saying it is not shown", maria)
	}

	var text bytes.Buffer
	if err := st.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("sluice status:\n%s", text.String())
	for _, want := range []string{"RETAINED WAL BYTES", slot, confirmed} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, text.String())
		}
	}
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Captures []map[string]any `json:"captures"`
	}
	if err := json.Unmarshal(data, &back); err != nil || len(back.Captures) != 3 || back.Captures[0]["confirmed_flush_lsn"] != confirmed {
		t.Errorf("json captures = %s (%v), want confirmed_flush_lsn %s", data, err, confirmed)
	}
}

// TestStatusKafkaLag: before any ingest every produced record of a topic is
// lag (the raw table records no offset, so lag runs from the log start).
func TestStatusKafkaLag(t *testing.T) {
	brokers := testenv.Kafka(t)
	ctx := context.Background()
	prefix := testenv.UniqueName("statuslag")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic(prefix+".public.a"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const produced = 7
	for i := range produced {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(`{}`)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := ParseConfig([]byte(fmt.Sprintf(`
warehouse: %s
kafka: {brokers: [%s]}
ingest: {topics: '%s\..*'}
`, filepath.Join(t.TempDir(), "lake"), brokers[0], prefix)), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	st, err := GetStatus(ctx, cfg, tcLogger())
	if err != nil {
		t.Fatal(err)
	}
	if st.KafkaError != "" || len(st.Topics) != 1 {
		t.Fatalf("topics = %+v, kafka error %q; want one topic", st.Topics, st.KafkaError)
	}
	if got := st.Topics[0]; got.Topic != prefix+".public.a" || got.Lag != produced {
		t.Errorf("lag = %+v, want topic %s.public.a lag %d", got, prefix, produced)
	}
}
