package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/schemas"
)

// Chunk is one primary-key range of a table: the keys k with
// Lo < k ≤ Hi, compared as row values ((a,b) > (x,y)) in the source's key
// order. A nil Lo is unbounded below, a nil Hi unbounded above.
type Chunk struct {
	Index int
	Lo    Bound
	Hi    Bound
}

// PickBoundaries picks up to chunks-1 strictly increasing boundaries at
// evenly spaced ranks of sample, an ordered (non-decreasing) sample of the
// table's keys; equal neighbours are skipped, so a sample with duplicates
// (TABLESAMPLE of a skewed table) still gives strictly increasing
// boundaries. When sample is every key, the chunks hold within one row of
// len(sample)/chunks rows each.
func PickBoundaries(sample []Bound, chunks int) []Bound {
	if chunks <= 1 || len(sample) == 0 {
		return nil
	}
	out := make([]Bound, 0, chunks-1)
	for i := 1; i < chunks; i++ {
		// The last key of the i-th of chunks equal shares.
		r := i*len(sample)/chunks - 1
		if r < 0 {
			continue
		}
		b := sample[r]
		if len(out) > 0 && slices.Equal(out[len(out)-1], b) {
			continue
		}
		out = append(out, b)
	}
	// The last boundary equal to the greatest sampled key would leave an
	// upper chunk that the sample says is empty; keep it anyway: keys
	// inserted since the sample land there.
	return out
}

// PlanChunks turns strictly increasing boundaries b into len(b)+1 chunks:
// (-∞, b0], (b0, b1], …, (bn-1, +∞). Together they cover every key exactly
// once. Equal neighbouring boundaries (which would give an empty chunk and
// betray an unordered sample) are an error.
func PlanChunks(boundaries []Bound) ([]Chunk, error) {
	chunks := make([]Chunk, 0, len(boundaries)+1)
	var lo Bound
	for i, b := range boundaries {
		if len(b) == 0 {
			return nil, fmt.Errorf("plan chunks: boundary %d is empty", i)
		}
		if lo != nil && slices.Equal(lo, b) {
			return nil, fmt.Errorf("plan chunks: boundaries %d and %d are equal", i-1, i)
		}
		chunks = append(chunks, Chunk{Index: i, Lo: lo, Hi: b})
		lo = b
	}
	return append(chunks, Chunk{Index: len(boundaries), Lo: lo}), nil
}

// plan is the persisted chunk plan of one table in one snapshot. A resumed
// snapshot reads it back instead of sampling again, so chunk i means the
// same key range in every run.
type plan struct {
	SnapshotID    string   `json:"snapshotId"`
	Table         string   `json:"table"`
	Key           []string `json:"key"`
	Where         string   `json:"where,omitempty"`
	Boundaries    []Bound  `json:"boundaries"`
	EstimatedRows int64    `json:"estimatedRows"`
	// RecheckMark, when not empty, plans a recheck pass as chunk
	// len(Boundaries)+1 (recheck.go): the Rechecker's mark, taken before
	// the table's first view, from which the pass re-reads rows. Merge's
	// hold-back counts that chunk too (jobs/holdback.go).
	RecheckMark string `json:"recheckMark,omitempty"`
}

// planDir is where plans live in the raw table's store. Delta readers and
// VACUUM ignore paths whose first segment starts with '_'.
const planDir = "_sluice_snapshot"

func planKey(snapshotID string, t *Table) string {
	return planDir + "/" + snapshotID + "/" + t.ID.String() + ".json"
}

// loadOrSavePlan returns the stored plan of t, or stores fresh (made by
// mk) when there is none. The store's put-if-absent decides between two
// concurrent planners; the loser reads the winner's plan.
func loadOrSavePlan(ctx context.Context, store blob.Store, snapshotID string, t *Table, mk func() (*plan, error)) (*plan, bool, error) {
	key := planKey(snapshotID, t)
	if p, err := readPlan(ctx, store, key, t); err == nil || !errors.Is(err, blob.ErrNotExist) {
		return p, false, err
	}
	p, err := mk()
	if err != nil {
		return nil, false, err
	}
	data, err := json.Marshal(p)
	if err != nil {
		return nil, false, fmt.Errorf("plan %s: %w", key, err)
	}
	err = store.PutIfAbsent(ctx, key, data)
	if errors.Is(err, blob.ErrExist) {
		p, err := readPlan(ctx, store, key, t)
		return p, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("plan %s: %w", key, err)
	}
	return p, true, nil
}

func readPlan(ctx context.Context, store blob.Store, key string, t *Table) (*plan, error) {
	rc, err := store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", key, err)
	}
	var p plan
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("plan %s: %w", key, err)
	}
	if !slices.Equal(p.Key, t.Key) {
		return nil, fmt.Errorf("plan %s: planned for key (%s), table now has key (%s): use a new snapshot id: %w",
			key, strings.Join(p.Key, ","), strings.Join(t.Key, ","), ErrPlanMismatch)
	}
	if p.Where != t.Where {
		return nil, fmt.Errorf("plan %s: planned with where %q, this run asks for %q: use a new snapshot id: %w", key, p.Where, t.Where, ErrPlanMismatch)
	}
	for i, b := range p.Boundaries {
		if len(b) != len(t.Key) {
			return nil, fmt.Errorf("plan %s: boundary %d has %d values for a %d-column key", key, i, len(b), len(t.Key))
		}
	}
	return &p, nil
}

// ErrPlanMismatch: a snapshot id is resumed for a table whose stored plan
// was made for another key or another Where. An operator must pick a new
// snapshot id; retrying cannot help.
var ErrPlanMismatch = errors.New("stored snapshot plan does not match")

// AppIDPrefix starts every snapshot txn appId.
const AppIDPrefix = schemas.SnapshotAppIDPrefix

// ChunkAppID is the raw table txn appId that records chunk index of table
// in snapshot snapshotID as committed:
// "sluice-snapshot|<snapshot id>|<db.schema.table>|<chunk>". Its version
// is the number of rows the chunk wrote.
func ChunkAppID(snapshotID string, table string, chunk int) string {
	return AppIDPrefix + snapshotID + "|" + table + "|" + strconv.Itoa(chunk)
}

// validSnapshotID rejects ids that would make appIds or plan paths
// ambiguous.
func validSnapshotID(id string) error {
	if id == "" {
		return errors.New("snapshot id is empty")
	}
	if strings.ContainsAny(id, "|/\\") || strings.HasPrefix(id, ".") {
		return fmt.Errorf("snapshot id %q: may not contain '|', '/', '\\' or start with '.'", id)
	}
	return nil
}
