package jobs

import (
	"context"
	"encoding/json"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/dv"
)

// datafileRows opens one SCD1 data file for streaming, without the rows
// its deletion vector (if any) marks deleted.
func datafileRows(ctx context.Context, store blob.Store, f *lakelog.Add, schema *lakelog.StructType) (*dv.Rows, error) {
	return dv.ReadFile(ctx, store, nil, f, schema)
}

// filesFor returns the SCD1 files that may hold rows of range r, by the
// min/max stats of the first key column (merge keeps files sorted and
// disjoint by key, so a range usually touches one or two files). Stats
// bounds are conservative (a string min is a prefix, a max is at least
// every value), so a file is skipped only when it cannot hold a key of the
// range. Without usable stats a file is read.
func (ck *tableChecker) filesFor(r int) []*lakelog.Add {
	var lo, hi any
	if r > 0 && ck.bounds[r-1] != nil {
		lo = ck.bounds[r-1][0]
	}
	if r < len(ck.chunks)-1 && ck.bounds[r] != nil {
		hi = ck.bounds[r][0]
	}
	all := ck.lakeSnap.Files()
	if lo == nil && hi == nil {
		return all
	}
	name := ck.lakeSnap.Schema().Fields[ck.lakeKey[0]].Name
	var out []*lakelog.Add
	for _, f := range all {
		st, err := f.ParsedStats()
		if err != nil || st == nil {
			out = append(out, f)
			continue
		}
		fmin, okMin := statKey(st.MinValues[name], lo, hi)
		fmax, okMax := statKey(st.MaxValues[name], lo, hi)
		if okMax && lo != nil && compareValue(fmax, lo) < 0 {
			continue
		}
		if okMin && hi != nil && compareValue(fmin, hi) > 0 {
			continue
		}
		out = append(out, f)
	}
	return out
}

// statKey converts a stats value to the normalized form of the range
// bounds (int64 or string keys); ok is false for anything else.
func statKey(v any, lo, hi any) (any, bool) {
	like := lo
	if like == nil {
		like = hi
	}
	switch like.(type) {
	case int64:
		if n, ok := v.(json.Number); ok {
			i, err := n.Int64()
			return i, err == nil
		}
	case string:
		s, ok := v.(string)
		return s, ok
	}
	return nil, false
}
