package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice/capture"
)

// slotActive reports whether a walsender holds the slot.
func slotActive(t *testing.T, dsn, slot string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var active bool
	if err := conn.QueryRow(ctx, `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&active); err != nil {
		t.Fatalf("slot %s: %v", slot, err)
	}
	return active
}

// TestStreamReleasesSlotAndWaitsForIt checks both ends of a restart on
// one slot. When Stream returns, the server's walsender has let go of the
// slot (it ends asynchronously after the connection closes), so a restart
// or DROP DATABASE works at once. And a Stream that finds the slot still
// held by another walsender (a capture that was just killed) waits for it
// instead of failing with "replication slot is active".
func TestStreamReleasesSlotAndWaitsForIt(t *testing.T) {
	dsn := testDB(t)
	execSQL(t, dsn, `CREATE TABLE w (id int PRIMARY KEY)`)
	slot := testSlot("s_wait")
	cfg := Config{DSN: dsn, SlotName: slot, Publication: "p_wait", AllTables: true, TopicPrefix: "pfx"}

	s := startStream(t, cfg, "")
	waitSlot(t, dsn, slot)
	s.stop()
	if slotActive(t, dsn, slot) {
		t.Fatalf("slot %s still active after Stream returned", slot)
	}

	// Another walsender holds the slot, then lets go 2s later.
	ctx := context.Background()
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pc.RuntimeParams["replication"] = "database"
	holder, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	if err := pglogrepl.StartReplication(ctx, holder, slot, 0,
		pglogrepl.StartReplicationOptions{PluginArgs: []string{"proto_version '1'", "publication_names 'p_wait'"}}); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(2 * time.Second)
		_ = holder.Close(ctx)
	}()

	s = startStream(t, cfg, "")
	execSQL(t, dsn, `INSERT INTO w VALUES (1)`)
	_, changes := s.collect(t, 1)
	<-released
	if len(changes) != 1 || changes[0].After[0] != int32(1) {
		t.Fatalf("changes = %+v, want the insert of id 1", changes)
	}
}

// TestSlotOfAnotherDatabase: slot names are global to the server; a slot
// of the configured name that decodes another database is refused with an
// error naming both databases, not streamed from nor reported as lost.
func TestSlotOfAnotherDatabase(t *testing.T) {
	other := testDB(t)
	slot := testSlot("s_other")
	execSQL(t, other, `SELECT pg_create_logical_replication_slot('`+slot+`', 'pgoutput')`)

	dsn := testDB(t)
	execSQL(t, dsn, `CREATE TABLE o (id int PRIMARY KEY)`)
	cfg := Config{DSN: dsn, SlotName: slot, Publication: "p_other", AllTables: true, TopicPrefix: "pfx"}
	src, err := New(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	err = src.Stream(context.Background(), "", make(chan capture.Batch, 1))
	if err == nil || !strings.Contains(err.Error(), "belongs to database") {
		t.Fatalf("Stream = %v, want an error saying the slot belongs to another database", err)
	}
}
