package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/snapshot"
)

// Merge holds back a table while a snapshot or backfill of it is in
// progress. Why: a streamed change that leaves columns out (unchanged
// TOAST, a minimal row image) or moves a row to another key takes those
// columns from the row the SCD1 table holds. Merged before the snapshot
// chunk holding that row commits, it finds no row; the chunk's row then
// arrives with an older ordering key and is skipped as stale, and the
// columns stay lost. Held back until every chunk is committed, the table
// merges the snapshot rows and the stream together, in ordering-key
// order, which is exact.
//
// "In progress" is read from what snapshot stores, nothing else: a plan
// object _sluice_snapshot/<id>/<table>.json in the raw table's store
// (written before the first chunk is read) and, per committed chunk, the
// raw txn appId snapshot.ChunkAppID(id, table, i). A plan with
// len(boundaries)+1 chunks (one more, the recheck pass, when it has a
// recheckMark) of which some have no appId at the merge's raw version is
// in progress. A sibling object <table>.released gives a
// snapshot up (see docs/snapshot.md): its plan stays, so resuming the id
// still reads the same chunk ranges.

// TODO(snapshot): every merge reads every plan ever stored, completed
// ones included; a "<table>.done" object written by jobs.Snapshot once all
// chunks are committed would let it skip them.

// snapshotPlanDir mirrors snapshot's planDir (unexported there).
const snapshotPlanDir = "_sluice_snapshot/"

// releasedSuffix marks a snapshot plan whose hold an operator released.
const releasedSuffix = ".released"

// holdBackWarnAge: a hold older than this is logged as a warning, since
// the snapshot may have been abandoned.
const holdBackWarnAge = 6 * time.Hour

// HeldTable is a table that merge leaves unmerged because a snapshot or
// backfill of it has not committed all its chunks.
type HeldTable struct {
	Table       string    `json:"table"` // db.schema.table or db.table
	SnapshotID  string    `json:"snapshot_id"`
	ChunksDone  int       `json:"chunks_done"`
	ChunksTotal int       `json:"chunks_total"`
	PlannedAt   time.Time `json:"planned_at"` // when the plan was stored
	Reason      string    `json:"reason"`     // "snapshot in progress"
	// PlanKey is the plan object in the raw table's store.
	PlanKey string `json:"plan_key"`
}

// storedPlan is the part of snapshot's stored plan that says how many
// chunks a snapshot of a table has.
type storedPlan struct {
	SnapshotID string            `json:"snapshotId"`
	Table      string            `json:"table"`
	Boundaries []json.RawMessage `json:"boundaries"`
	// RecheckMark, when set, plans one more chunk after the key ranges:
	// the recheck pass (snapshot/recheck.go).
	RecheckMark string `json:"recheckMark"`
}

// SnapshotsInProgress lists the snapshots and backfills (one entry per
// table and snapshot id) that have not committed every chunk at raw
// version s, ordered by table then snapshot id. Released ones are left
// out. It reads the raw table's store only; safe to call concurrently
// with snapshots and merges.
func SnapshotsInProgress(ctx context.Context, rawStore blob.Store, s *lakelog.Snapshot) ([]HeldTable, error) {
	type planObj struct {
		key string
		mod time.Time
	}
	var plans []planObj
	released := map[string]bool{}
	for o, err := range rawStore.List(ctx, snapshotPlanDir) {
		if err != nil {
			return nil, fmt.Errorf("list snapshot plans: %w", err)
		}
		switch {
		case strings.HasSuffix(o.Key, releasedSuffix):
			released[strings.TrimSuffix(o.Key, releasedSuffix)+".json"] = true
		case strings.HasSuffix(o.Key, ".json"):
			plans = append(plans, planObj{o.Key, o.ModTime})
		}
	}
	plans = slices.DeleteFunc(plans, func(p planObj) bool { return released[p.key] })

	out := make([]*HeldTable, len(plans))
	errs := make([]error, len(plans))
	sem := make(chan struct{}, 8) // plans are small; bound the concurrent GETs
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = heldByPlan(ctx, rawStore, s, p.key, p.mod)
		})
	}
	wg.Wait()
	var held []HeldTable
	for i := range plans {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if out[i] != nil {
			held = append(held, *out[i])
		}
	}
	slices.SortFunc(held, func(a, b HeldTable) int {
		if c := strings.Compare(a.Table, b.Table); c != 0 {
			return c
		}
		return strings.Compare(a.SnapshotID, b.SnapshotID)
	})
	return held, nil
}

// heldByPlan reads one plan and returns the hold it causes, nil when all
// its chunks are committed at s. An unreadable plan is an error rather
// than a silent release: merging the table could lose columns.
func heldByPlan(ctx context.Context, store blob.Store, s *lakelog.Snapshot, key string, mod time.Time) (*HeldTable, error) {
	rc, err := store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("snapshot plan %s: %w", key, err)
	}
	defer rc.Close()
	var p storedPlan
	if err := json.NewDecoder(rc).Decode(&p); err != nil {
		return nil, fmt.Errorf("snapshot plan %s: %w", key, err)
	}
	if p.SnapshotID == "" || p.Table == "" {
		return nil, fmt.Errorf("snapshot plan %s: no snapshotId or table", key)
	}
	total := len(p.Boundaries) + 1
	if p.RecheckMark != "" {
		total++
	}
	done := 0
	for i := range total {
		if s != nil {
			if _, ok := s.AppVersion(snapshot.ChunkAppID(p.SnapshotID, p.Table, i)); ok {
				done++
			}
		}
	}
	if done == total {
		return nil, nil
	}
	return &HeldTable{
		Table: p.Table, SnapshotID: p.SnapshotID, ChunksDone: done, ChunksTotal: total,
		PlannedAt: mod.UTC(), Reason: "snapshot in progress", PlanKey: key,
	}, nil
}

// holdBack is the merge.Config.HoldBack of a job: it lists the snapshots
// in progress at the merge's raw version, logs each hold, and keeps the
// list for the job's report.
type holdBack struct {
	rawStore blob.Store
	logger   *slog.Logger
	now      func() time.Time

	held []HeldTable // of the last call
}

func (h *holdBack) tables(ctx context.Context, s *lakelog.Snapshot) ([]string, error) {
	held, err := SnapshotsInProgress(ctx, h.rawStore, s)
	if err != nil {
		return nil, err
	}
	h.held = held
	var names []string
	for _, ht := range held {
		if !slices.Contains(names, ht.Table) {
			names = append(names, ht.Table)
		}
		age := h.now().Sub(ht.PlannedAt).Round(time.Second)
		args := []any{"table", ht.Table, "snapshot_id", ht.SnapshotID, "chunks_done", ht.ChunksDone, "chunks_total", ht.ChunksTotal,
			"raw_version", s.Version(), "planned_ago", age.String()}
		if age > holdBackWarnAge {
			h.logger.Warn("merge holds back table: its snapshot has not finished; if it was abandoned, rerun it with the same --snapshot-id or release it (docs/snapshot.md)",
				append(args, "release_with", ht.PlanKey[:len(ht.PlanKey)-len(".json")]+releasedSuffix)...)
			continue
		}
		h.logger.Info("merge holds back table: snapshot in progress; it merges once every chunk is committed", args...)
	}
	return names, nil
}

// writeHeld prints the held tables for a terminal (status).
func writeHeld(w io.Writer, held []HeldTable) error {
	if len(held) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HELD BACK (snapshot in progress)\tSNAPSHOT ID\tCHUNKS\tPLANNED AT")
	for _, h := range held {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\n", h.Table, h.SnapshotID, h.ChunksDone, h.ChunksTotal, h.PlannedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}
