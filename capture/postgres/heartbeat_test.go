package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func confirmedFlush(t *testing.T, dsn, slot string) uint64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&s); err != nil {
		t.Fatal(err)
	}
	lsn, err := parseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return lsn
}

// TestSlotAdvancesOnlyAfterAckAndWhenIdle checks both halves of the slot
// contract: an unacked batch holds the slot back, heartbeats included; once
// acked, an idle database's slot moves past WAL written after the batch.
func TestSlotAdvancesOnlyAfterAckAndWhenIdle(t *testing.T) {
	dsn := testDB(t)
	execSQL(t, dsn, `CREATE TABLE h (id int PRIMARY KEY)`)
	slot := testSlot("s_hb")
	cfg := Config{DSN: dsn, SlotName: slot, Publication: "p_hb", AllTables: true, TopicPrefix: "pfx",
		StatusInterval: 50 * time.Millisecond, HeartbeatInterval: 50 * time.Millisecond}
	s := startStream(t, cfg, "")
	waitSlot(t, dsn, slot)
	execSQL(t, dsn, `INSERT INTO h VALUES (1)`)
	batches, _ := s.collect(t, 1)
	end, err := parseLSN(batches[0].Position)
	if err != nil {
		t.Fatal(err)
	}

	// Many status intervals and heartbeats pass; nothing was acked.
	time.Sleep(time.Second)
	if got := confirmedFlush(t, dsn, slot); got >= end {
		t.Fatalf("slot confirmed %s before the batch ending at %s was acked", formatLSN(got), formatLSN(end))
	}

	if err := s.src.Ack(context.Background(), batches[0].Position); err != nil {
		t.Fatal(err)
	}
	var walNow string
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&walNow); err != nil {
		t.Fatal(err)
	}
	target, _ := parseLSN(walNow)
	for range 600 {
		if confirmedFlush(t, dsn, slot) >= target {
			lag, err := s.src.SlotLag(ctx)
			if err != nil || lag < 0 {
				t.Fatalf("SlotLag = %d, %v", lag, err)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("idle slot never advanced to %s (at %s)", walNow, formatLSN(confirmedFlush(t, dsn, slot)))
}
