package lakelog

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/lakelog/blob"
)

// This file lists _delta_log/, chooses the log segment for a version (the
// newest complete checkpoint at or before it plus the contiguous commits
// after it) and replays it into a snapshot with the reconciliation rules of
// §Action Reconciliation.

// logDir is the log directory relative to the table root.
const logDir = "_delta_log/"

// errVersionsNotContiguous reports a gap in the commit versions a snapshot
// needs.
var errVersionsNotContiguous = errors.New("delta log versions are not contiguous")

// commitKey is the store key of commit v.
func commitKey(v int64) string { return fmt.Sprintf("%s%020d.json", logDir, v) }

// checkpointRef is one complete checkpoint: a classic single file, every
// part of a multi-part checkpoint, or a v2 top-level file.
type checkpointRef struct {
	version int64
	keys    []string // files to read, in part order
	kind    string   // "classic", "multi-part", "v2"
}

// logListing is what one listing of _delta_log/ found.
type logListing struct {
	commits     map[int64]bool
	checkpoints map[int64][]*checkpointRef // complete checkpoints per version
	anything    bool                       // any Delta log file at all
}

func (l *logListing) commitVersions() []int64 {
	vs := make([]int64, 0, len(l.commits))
	for v := range l.commits {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// listAttempts bounds how often listLog lists again when a listing shows a
// gap between commit versions.
const listAttempts = 4

// listLog lists _delta_log/ from version from on (from 0: everything),
// using the store's ListFrom when it has one.
//
// A gap between two listed commits cannot be real: commit v+1 is written
// only by a writer that has read commit v. It means the listing raced with
// writers (a directory read while files are being created may return a
// newer file and miss an older one, in hash order), so listLog lists again
// and keeps the union; a gap that survives every attempt is reported by
// the caller as errVersionsNotContiguous.
func (t *Table) listLog(ctx context.Context, from int64) (*logListing, error) {
	l, err := t.listLogOnce(ctx, from)
	for attempt := 1; err == nil && attempt < listAttempts && l.hasGap(from); attempt++ {
		var again *logListing
		if again, err = t.listLogOnce(ctx, from); err == nil {
			l.merge(again)
		}
	}
	return l, err
}

// hasGap reports a version missing between where the listing's reader
// starts and the greatest listed commit. The start is from, for a listing
// from a version on (Commits, or the checkpoint a _last_checkpoint hint
// names); otherwise the newest listed checkpoint, which a snapshot of the
// latest version replays from (older commits may be cleaned up); without
// one, the smallest listed commit. A checkpoint stands in for the commit
// file of its own version. The commit right after the start is as likely
// to be missed by a racing listing as any other.
func (l *logListing) hasGap(from int64) bool {
	lo, hi := int64(-1), int64(-1)
	for v := range l.commits {
		if lo < 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	if hi < 0 {
		return false
	}
	start := lo
	if from > 0 {
		start = from
	} else {
		newest := int64(-1)
		for v := range l.checkpoints {
			if v <= hi {
				newest = max(newest, v)
			}
		}
		if newest >= 0 {
			start = newest
		}
	}
	if start > hi {
		return false
	}
	n := int64(0)
	for v := range l.commits {
		if v >= start {
			n++
		}
	}
	if !l.commits[start] && len(l.checkpoints[start]) > 0 {
		n++
	}
	return n != hi-start+1
}

// merge adds what other listed and l did not.
func (l *logListing) merge(other *logListing) {
	l.anything = l.anything || other.anything
	for v := range other.commits {
		l.commits[v] = true
	}
	for v, refs := range other.checkpoints {
		if _, ok := l.checkpoints[v]; !ok {
			l.checkpoints[v] = refs
		}
	}
}

// listLogOnce is one listing of _delta_log/ from version from on.
func (t *Table) listLogOnce(ctx context.Context, from int64) (*logListing, error) {
	var seq iter.Seq2[blob.Object, error]
	if lf, ok := t.store.(blob.ListFrom); ok && from > 0 {
		seq = lf.ListFrom(ctx, logDir, fmt.Sprintf("%s%020d", logDir, from))
	} else {
		seq = t.store.List(ctx, logDir)
	}
	l := &logListing{commits: map[int64]bool{}, checkpoints: map[int64][]*checkpointRef{}}
	type multiKey struct {
		version int64
		parts   int
	}
	multi := map[multiKey]map[int]string{}
	for obj, err := range seq {
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", logDir, err)
		}
		name, ok := strings.CutPrefix(obj.Key, logDir)
		if !ok || strings.Contains(name, "/") {
			continue // _sidecars/ and other subdirectories
		}
		f, ok := parseLogName(name)
		if !ok || f.version < from {
			continue
		}
		l.anything = true
		switch f.kind {
		case "commit":
			l.commits[f.version] = true
		case "classic", "v2":
			l.checkpoints[f.version] = append(l.checkpoints[f.version],
				&checkpointRef{version: f.version, keys: []string{obj.Key}, kind: f.kind})
		case "multi-part":
			k := multiKey{f.version, f.parts}
			if multi[k] == nil {
				multi[k] = map[int]string{}
			}
			multi[k][f.part] = obj.Key
		}
	}
	for k, parts := range multi {
		if len(parts) != k.parts {
			continue // incomplete: a writer died mid-checkpoint
		}
		ref := &checkpointRef{version: k.version, kind: "multi-part"}
		for p := 1; p <= k.parts; p++ {
			key, ok := parts[p]
			if !ok {
				ref = nil
				break
			}
			ref.keys = append(ref.keys, key)
		}
		if ref != nil {
			l.checkpoints[k.version] = append(l.checkpoints[k.version], ref)
		}
	}
	return l, nil
}

// logName is a parsed _delta_log file name.
type logName struct {
	version     int64
	kind        string // commit, classic, multi-part, v2
	part, parts int
}

// parseLogName recognizes <v>.json, <v>.checkpoint.parquet,
// <v>.checkpoint.<part>.<parts>.parquet and <v>.checkpoint.<uuid>.(json|parquet).
// Log compaction files, .crc files and anything else are not recognized.
func parseLogName(name string) (logName, bool) {
	if len(name) < 21 || name[20] != '.' {
		return logName{}, false
	}
	v, err := strconv.ParseInt(name[:20], 10, 64)
	if err != nil || v < 0 {
		return logName{}, false
	}
	rest := name[21:]
	if rest == "json" {
		return logName{version: v, kind: "commit"}, true
	}
	cp, ok := strings.CutPrefix(rest, "checkpoint.")
	if !ok {
		return logName{}, false
	}
	if cp == "parquet" {
		return logName{version: v, kind: "classic"}, true
	}
	fields := strings.Split(cp, ".")
	if len(fields) == 3 && fields[2] == "parquet" && len(fields[0]) == 10 && len(fields[1]) == 10 {
		part, err1 := strconv.Atoi(fields[0])
		parts, err2 := strconv.Atoi(fields[1])
		if err1 == nil && err2 == nil && part >= 1 && part <= parts {
			return logName{version: v, kind: "multi-part", part: part, parts: parts}, true
		}
		return logName{}, false
	}
	if len(fields) == 2 && (fields[1] == "json" || fields[1] == "parquet") && fields[0] != "" {
		return logName{version: v, kind: "v2"}, true
	}
	return logName{}, false
}

// logSegment is what a snapshot at version needs.
type logSegment struct {
	version    int64
	checkpoint *checkpointRef // nil: replay from commit 0
	commits    []int64        // ascending, contiguous, after the checkpoint
}

// segment chooses the segment for target (-1: latest).
func (l *logListing) segment(target int64) (*logSegment, error) {
	if !l.anything {
		return nil, ErrNoTable
	}
	latest := int64(-1)
	for v := range l.commits {
		latest = max(latest, v)
	}
	for v := range l.checkpoints {
		latest = max(latest, v)
	}
	if target < 0 {
		target = latest
	} else if target > latest {
		return nil, fmt.Errorf("version %d does not exist (latest is %d)", target, latest)
	}
	seg := &logSegment{version: target}
	from := int64(0)
	for v, refs := range l.checkpoints {
		if v <= target && (seg.checkpoint == nil || v > seg.checkpoint.version) {
			seg.checkpoint = preferredCheckpoint(refs)
			from = v + 1
		}
	}
	for v := from; v <= target; v++ {
		if !l.commits[v] {
			if v == 0 {
				return nil, fmt.Errorf("version %d: commit 0 is missing and no checkpoint precedes it: %w", target, errVersionsNotContiguous)
			}
			return nil, fmt.Errorf("version %d: commit %d is missing: %w", target, v, errVersionsNotContiguous)
		}
		seg.commits = append(seg.commits, v)
	}
	return seg, nil
}

// preferredCheckpoint picks one of several complete checkpoints of the same
// version: a single file is cheapest to read.
func preferredCheckpoint(refs []*checkpointRef) *checkpointRef {
	best := refs[0]
	for _, r := range refs[1:] {
		if len(r.keys) < len(best.keys) || (len(r.keys) == len(best.keys) && r.keys[0] < best.keys[0]) {
			best = r
		}
	}
	return best
}

// logSegmentFor finds the segment for target (-1: latest): it lists from the
// _last_checkpoint hint when there is a usable one, and falls back to
// listing the whole log when the hint is missing, corrupt, or names a
// checkpoint that is not there.
func (t *Table) logSegmentFor(ctx context.Context, target int64) (*logSegment, error) {
	hint, err := t.readLastCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if hint != nil && hint.Version > 0 && (target < 0 || hint.Version <= target) {
		l, err := t.listLog(ctx, hint.Version)
		if err != nil {
			return nil, err
		}
		seg, err := l.segment(target)
		if err == nil && seg.checkpoint != nil && seg.checkpoint.version >= hint.Version {
			return seg, nil
		}
		t.opts.Logger.Warn("_last_checkpoint names a checkpoint that is missing; listing the whole log",
			"version", hint.Version)
	}
	l, err := t.listLog(ctx, 0)
	if err != nil {
		return nil, err
	}
	return l.segment(target)
}

// replayState accumulates reconciled actions (§Action Reconciliation).
type replayState struct {
	protocol   *Protocol
	metadata   *Metadata
	files      map[FileKey]*Add
	tombstones map[FileKey]*Remove
	txns       map[string]SetTransaction
	domains    map[string]DomainMetadata
}

func newReplayState() *replayState {
	return &replayState{
		files:      map[FileKey]*Add{},
		tombstones: map[FileKey]*Remove{},
		txns:       map[string]SetTransaction{},
		domains:    map[string]DomainMetadata{},
	}
}

// apply applies one action; actions must come oldest first (checkpoint,
// then commits in version order, each in file order), so the newest action
// for a key wins.
func (s *replayState) apply(a *Action) error {
	switch {
	case a.Add != nil:
		k := a.Add.Key()
		s.files[k] = a.Add
		delete(s.tombstones, k)
	case a.Remove != nil:
		k := a.Remove.Key()
		delete(s.files, k)
		// Tombstones are kept regardless of deletionTimestamp: expiry only
		// matters to VACUUM and checkpoint writers, not to the table state.
		s.tombstones[k] = a.Remove
	case a.MetaData != nil:
		s.metadata = a.MetaData
	case a.Protocol != nil:
		s.protocol = a.Protocol
	case a.Txn != nil:
		s.txns[a.Txn.AppID] = *a.Txn
	case a.DomainMetadata != nil:
		if a.DomainMetadata.Removed {
			delete(s.domains, a.DomainMetadata.Domain)
		} else {
			s.domains[a.DomainMetadata.Domain] = *a.DomainMetadata
		}
	}
	return nil
}

// loadSnapshot builds the snapshot at target (-1: latest).
func (t *Table) loadSnapshot(ctx context.Context, target int64) (*Snapshot, error) {
	seg, err := t.logSegmentFor(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("load snapshot: %w", err)
	}
	return t.replaySegment(ctx, seg)
}

// replaySegment replays a chosen segment and checks the result.
func (t *Table) replaySegment(ctx context.Context, seg *logSegment) (*Snapshot, error) {
	st := newReplayState()
	if seg.checkpoint != nil {
		if err := t.readCheckpoint(ctx, seg.checkpoint, st.apply); err != nil {
			return nil, fmt.Errorf("load snapshot %d: %w", seg.version, err)
		}
	}
	for _, v := range seg.commits {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := readAll(ctx, t.store, commitKey(v))
		if err != nil {
			return nil, fmt.Errorf("load snapshot %d: commit %d: %w", seg.version, v, err)
		}
		if err := decodeJSONActions(data, st.apply); err != nil {
			return nil, fmt.Errorf("load snapshot %d: commit %d: %w", seg.version, v, err)
		}
	}
	snap, err := newSnapshot(t, seg.version, st)
	if err != nil {
		return nil, err
	}
	snap.tail = len(seg.commits)
	return snap, nil
}
