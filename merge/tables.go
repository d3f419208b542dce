package merge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/schemas"
)

// ManagedTable is one SCD1 table the merge maintains, as Tables lists it.
type ManagedTable struct {
	Source   schemas.TableID // the source table
	Topics   []string        // the raw-table topics that feed it, sorted
	Location string          // key prefix of the SCD1 table in the warehouse store
	// Version is the SCD1 table's latest version; -1 when the merge has
	// seen the source table but not created its SCD1 table yet (or the
	// table was dropped).
	Version int64
	// MergedRawVersion is the raw table version the SCD1 table is complete
	// to (the txn of AppID); -1 when none.
	MergedRawVersion int64
	// Progress is the table's sluice.progress domain (zero when absent).
	Progress Progress
	// Err is set when the table's log could not be read; the other tables
	// are still listed.
	Err error
}

// Tables lists the SCD1 tables the merge manages under cfg: every source
// table the merge has routed raw data to (its catalog), with location and
// progress read from each table's log. cfg.Only restricts the list like it
// restricts Run. Tables is read-only and safe to call while a merge runs
// (it may then see the previous version). The error is non-nil only when
// the catalog cannot be read; a table whose log cannot be read has Err set.
//
// A source table whose raw data the merge has not read yet is not listed:
// the catalog learns tables as Run routes their changes.
func Tables(ctx context.Context, warehouse blob.Store, cfg Config) ([]ManagedTable, error) {
	cfg = cfg.withDefaults()
	cat, err := loadCatalog(ctx, blob.Sub(warehouse, strings.Trim(cfg.TablesRoot, "/")))
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	byID := map[schemas.TableID]*ManagedTable{}
	for topic, tables := range cat.Topics {
		for _, ct := range tables {
			id := ct.id()
			if !cfg.selected(id) {
				continue
			}
			mt := byID[id]
			if mt == nil {
				mt = &ManagedTable{Source: id, Location: cfg.tableConfig(id).Location, Version: -1, MergedRawVersion: -1}
				byID[id] = mt
			}
			if !slices.Contains(mt.Topics, topic) {
				mt.Topics = append(mt.Topics, topic)
			}
		}
	}
	out := make([]ManagedTable, 0, len(byID))
	for _, mt := range byID {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		slices.Sort(mt.Topics)
		snap, err := lakelog.Open(blob.Sub(warehouse, mt.Location), lakelog.Options{Now: cfg.Now}).Snapshot(ctx)
		switch {
		case errors.Is(err, lakelog.ErrNoTable):
		case err != nil:
			mt.Err = fmt.Errorf("table %s at %s: %w", mt.Source, mt.Location, err)
		default:
			mt.Version = snap.Version()
			if v, ok := snap.AppVersion(AppID); ok {
				mt.MergedRawVersion = v
			}
			if conf, ok := snap.Domain(ProgressDomain); ok {
				if err := json.Unmarshal([]byte(conf), &mt.Progress); err != nil {
					mt.Err = fmt.Errorf("table %s: domain %s: %w", mt.Source, ProgressDomain, err)
				}
			}
		}
		out = append(out, *mt)
	}
	slices.SortFunc(out, func(a, b ManagedTable) int { return strings.Compare(a.Source.String(), b.Source.String()) })
	return out, nil
}
