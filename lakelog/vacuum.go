package lakelog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file implements VACUUM: deleting files under the table root that the
// table no longer references, after a retention period, the way Spark's
// VacuumCommand does. A file is kept when any of these hold:
//   - the latest snapshot references it (an active add);
//   - a remove tombstone younger than the retention references it (readers
//     of recent versions, and concurrent transactions that read them, may
//     still open it);
//   - it was modified less recently than the retention (it may belong to a
//     commit that is being written right now);
//   - a segment of its key is hidden: starts with "_" or "." (the log,
//     _change_data, checkpoint sidecars, temp files), except a partition
//     directory "<col>=..." whose column name starts with "_".
//
// As in Spark, time travel to versions older than the retention may find
// their data files gone; that is what the retention means.

// DefaultVacuumMinRetention is the smallest retention Vacuum accepts
// without VacuumOptions.Force.
const DefaultVacuumMinRetention = time.Hour

// vacuumProtocolCheck is the reader+writer feature that obliges VACUUM to
// check the write protocol (§VACUUM Protocol Check). Vacuum checks it for
// every table, so it supports the feature.
const vacuumProtocolCheckFeature = "vacuumProtocolCheck"

// VacuumOptions configure Vacuum. The zero value is a dry run with the
// table's retention.
type VacuumOptions struct {
	// Retention: files unreferenced by the latest snapshot are deleted only
	// if their tombstone (if any) and their modification time are older
	// than this. 0 means the table's delta.deletedFileRetentionDuration, or
	// 7 days.
	Retention time.Duration
	// Execute deletes the files. Without it Vacuum only reports what it
	// would delete (a dry run), so the zero value is safe.
	Execute bool
	// Now is the clock; nil means the table's clock (Options.Now).
	Now func() time.Time
	// MinRetention: a Retention below it is refused unless Force. 0 means
	// DefaultVacuumMinRetention.
	MinRetention time.Duration
	// Force allows a Retention below MinRetention (e.g. tests, or an
	// operator who knows no reader or writer is running).
	Force bool
}

// VacuumFile is one file Vacuum deleted or would delete.
type VacuumFile struct {
	Key     string // store key relative to the table root
	Size    int64
	ModTime time.Time
}

// VacuumReport is what Vacuum found and did.
type VacuumReport struct {
	Version   int64         // the snapshot whose references were kept
	Retention time.Duration // the retention used
	Cutoff    time.Time     // now - retention
	DryRun    bool          // true: nothing was deleted
	Files     []VacuumFile  // deleted (or, dry run, to delete), by key
	Bytes     int64         // total size of Files
	Deleted   int           // files deleted so far; on error, a prefix of Files
}

// Vacuum deletes files under the table root that the latest snapshot does
// not reference, following the rules at the top of vacuum.go. By default
// (opts.Execute false) it deletes nothing and reports what it would delete.
//
// It refuses, deleting nothing, a table whose write protocol lakelog does
// not support (*UnsupportedFeatureError; also what §VACUUM Protocol Check
// asks), a retention below opts.MinRetention without opts.Force, and a
// table whose live references it cannot map to store keys (absolute paths
// of data or deletion-vector files). Deletion-vector files are kept while
// an add, or a remove younger than the retention, names them.
//
// Idempotent: deleting a missing file is not an error, so a run that
// failed part-way can simply be rerun. On error the report lists the files
// chosen, and Deleted how many were deleted. Safe to run concurrently with
// writers of new commits (their files are younger than the retention).
func (t *Table) Vacuum(ctx context.Context, opts VacuumOptions) (*VacuumReport, error) {
	snap, err := t.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("vacuum: %w", err)
	}
	p := snap.Protocol()
	supported := append(slices.Clone(implementedWriterFeatures), vacuumProtocolCheckFeature)
	if err := p.CheckWritable(supported); err != nil {
		return nil, fmt.Errorf("vacuum: protocol (%d,%d): %w", p.MinReaderVersion, p.MinWriterVersion, err)
	}
	meta := snap.Metadata()
	retention := opts.Retention
	if retention == 0 {
		retention = deletedFileRetention(&meta)
	}
	minRetention := opts.MinRetention
	if minRetention == 0 {
		minRetention = DefaultVacuumMinRetention
	}
	if retention < 0 {
		return nil, fmt.Errorf("vacuum: negative retention %s", retention)
	}
	if retention < minRetention && !opts.Force {
		return nil, fmt.Errorf("vacuum: retention %s is below the minimum %s: concurrent readers and writers may still need those files (set Force to override)", retention, minRetention)
	}
	now := t.opts.Now
	if opts.Now != nil {
		now = opts.Now
	}
	cutoff := now().Add(-retention)
	keep, err := vacuumReferences(snap, cutoff)
	if err != nil {
		return nil, fmt.Errorf("vacuum: %w", err)
	}

	report := &VacuumReport{Version: snap.Version(), Retention: retention, Cutoff: cutoff, DryRun: !opts.Execute}
	for obj, err := range t.store.List(ctx, "") {
		if err != nil {
			return nil, fmt.Errorf("vacuum: list table root: %w", err)
		}
		if isHiddenKey(obj.Key, meta.PartitionColumns) || keep[obj.Key] || !obj.ModTime.Before(cutoff) {
			continue
		}
		report.Files = append(report.Files, VacuumFile{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime})
		report.Bytes += obj.Size
	}
	if !opts.Execute {
		return report, nil
	}
	for _, f := range report.Files {
		if err := t.store.Delete(ctx, f.Key); err != nil {
			return report, fmt.Errorf("vacuum: delete %s: %w", f.Key, err)
		}
		report.Deleted++
	}
	t.opts.Logger.Info("lakelog: vacuumed", "version", report.Version, "files", report.Deleted, "bytes", report.Bytes)
	return report, nil
}

// errUnmappedReference reports a live reference Vacuum cannot turn into a
// store key, so it cannot prove any file unreferenced.
var errUnmappedReference = errors.New("cannot map the reference to a key under the table root")

// vacuumReferences returns the store keys Vacuum must keep: active files
// and files of tombstones deleted after cutoff.
func vacuumReferences(s *Snapshot, cutoff time.Time) (map[string]bool, error) {
	keep := map[string]bool{}
	add := func(path string, dv *DeletionVector) error {
		key, err := DecodePath(path)
		if err != nil {
			return err
		}
		// An absolute path may point under the table root under another
		// spelling; deleting "unreferenced" files would then destroy data.
		if strings.Contains(key, "://") || strings.HasPrefix(key, "/") || strings.HasPrefix(key, "file:") {
			return fmt.Errorf("file %s: absolute path: %w", path, errUnmappedReference)
		}
		keep[key] = true
		// The DV file (<prefix>/deletion_vector_<uuid>.bin) lives as long
		// as a file that names it; an absolute DV path is refused, as an
		// absolute data path is.
		dvKey, err := dv.StoreKey()
		if err != nil {
			return fmt.Errorf("file %s: %w", path, err)
		}
		if dvKey != "" {
			keep[dvKey] = true
		}
		return nil
	}
	for _, a := range s.Files() {
		if err := add(a.Path, a.DeletionVector); err != nil {
			return nil, err
		}
	}
	ms := cutoff.UnixMilli()
	for _, r := range s.Tombstones() {
		// A tombstone without deletionTimestamp counts as deleted at 0, as
		// in Spark: expired.
		if r.DeletionTimestamp == nil || *r.DeletionTimestamp <= ms {
			continue
		}
		if err := add(r.Path, r.DeletionVector); err != nil {
			return nil, err
		}
	}
	return keep, nil
}

// isHiddenKey reports whether some segment of key is hidden: starts with
// "_" or "." (Spark's DeltaTableUtils.isHiddenDirectory), unless the
// segment is a partition directory "<col>=..." of a partition column whose
// name itself starts with "_".
func isHiddenKey(key string, partitionColumns []string) bool {
	for seg := range strings.SplitSeq(key, "/") {
		if !strings.HasPrefix(seg, "_") && !strings.HasPrefix(seg, ".") {
			continue
		}
		partitionDir := false
		for _, c := range partitionColumns {
			if strings.HasPrefix(seg, c+"=") {
				partitionDir = true
				break
			}
		}
		if !partitionDir {
			return true
		}
	}
	return false
}
