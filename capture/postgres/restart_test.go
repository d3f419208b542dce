package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/tests/testenv"
)

// TestRestartExactlyOnce stops the capture right after bursts of writes
// (often in the middle of a Kafka transaction, always before the slot heard
// of the last acks) and restarts it; every row must arrive exactly once.
func TestRestartExactlyOnce(t *testing.T) {
	for _, atLeastOnce := range []bool{false, true} {
		t.Run(fmt.Sprintf("atLeastOnce=%v", atLeastOnce), func(t *testing.T) {
			brokers := testenv.Kafka(t)
			dsn := testDB(t)
			execSQL(t, dsn, `CREATE TABLE r (id int PRIMARY KEY, v int)`)
			prefix := testenv.UniqueName("pfx")
			slot := testSlot("s_restart")
			pgCfg := Config{DSN: dsn, SlotName: slot, Publication: "p_restart", AllTables: true, TopicPrefix: prefix}
			kcfg := capture.Config{Kafka: capture.KafkaConfig{Brokers: brokers}, SourceName: prefix, TopicPrefix: prefix,
				AutoCreateTopics: true, AtLeastOnce: atLeastOnce, MaxTxnRecords: 7}
			const rounds, perRound = 4, 25
			id := 0
			for round := range rounds {
				stop := runCapture(t, pgCfg, kcfg)
				if round == 0 {
					waitSlot(t, dsn, slot)
				}
				var stmts []string
				for range perRound {
					id++
					stmts = append(stmts, fmt.Sprintf(`INSERT INTO r VALUES (%d, %d)`, id, round))
				}
				stmts = append(stmts, fmt.Sprintf(`BEGIN; UPDATE r SET v = v + 100 WHERE id <= %d; COMMIT`, id))
				execSQL(t, dsn, stmts...)
				stop()
			}
			stop := runCapture(t, pgCfg, kcfg)
			// Per round: perRound inserts, then one update per existing row.
			want := 0
			for round := 1; round <= rounds; round++ {
				want += perRound + round*perRound
			}
			events := consume(t, brokers, want, prefix+".public.r")
			stop()

			seen := map[string]int{}
			for _, e := range events {
				if e.Op != "c" && e.Op != "u" {
					t.Errorf("unexpected op %s", e.Op)
				}
				k := fmt.Sprint(e.Key["id"], "/", e.Op, "/", e.After["v"])
				seen[k]++
			}
			if !atLeastOnce && len(events) != want {
				t.Errorf("got %d events, want exactly %d", len(events), want)
			}
			if len(seen) != want {
				t.Errorf("got %d distinct events, want %d", len(seen), want)
			}
			for k, n := range seen {
				if n != 1 && !atLeastOnce {
					t.Errorf("event %s arrived %d times", k, n)
				}
			}
			// Per-key order: the value only grows. At-least-once replays an
			// older event after newer ones; only first arrivals count.
			for k, es := range byKey(events) {
				prev := -1.0
				first := map[float64]bool{}
				for _, e := range es {
					v, _ := e.After["v"].(float64)
					if first[v] {
						continue
					}
					first[v] = true
					if v < prev {
						t.Errorf("%s: value %v after %v", k, v, prev)
					}
					prev = v
				}
			}
		})
	}
}

// TestPositionLost drops the slot behind the capture's back: the next run
// must refuse to guess and report ErrPositionLost.
func TestPositionLost(t *testing.T) {
	brokers := testenv.Kafka(t)
	dsn := testDB(t)
	execSQL(t, dsn, `CREATE TABLE l (id int PRIMARY KEY)`)
	prefix := testenv.UniqueName("pfx")
	slot := testSlot("s_lost")
	pgCfg := Config{DSN: dsn, SlotName: slot, Publication: "p_lost", AllTables: true, TopicPrefix: prefix}
	kcfg := capture.Config{Kafka: capture.KafkaConfig{Brokers: brokers}, SourceName: prefix, TopicPrefix: prefix, AutoCreateTopics: true}
	stop := runCapture(t, pgCfg, kcfg)
	waitSlot(t, dsn, slot)
	execSQL(t, dsn, `INSERT INTO l VALUES (1)`)
	consume(t, brokers, 1, prefix+".public.l")
	stop()
	dropSlotWhenInactive(t, dsn, slot)

	ctx := context.Background()
	src, err := New(ctx, pgCfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	err = capture.Run(ctx, src, kcfg, testLogger(t))
	if !errors.Is(err, capture.ErrPositionLost) {
		t.Fatalf("Run = %v, want ErrPositionLost", err)
	}
}

// dropSlotWhenInactive drops a replication slot once its walsender has
// exited: right after the capture closes its connection the server may
// still count the slot as active (SQLSTATE 55006) for a moment.
func dropSlotWhenInactive(t *testing.T, dsn, slot string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, slot)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("drop slot %s: %v", slot, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
