package lakelog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/lakelog/blob"
)

// A Transaction collects the actions of one commit, made against the
// snapshot it was begun from (its read version), and commits them with
// optimistic concurrency: Commit writes _delta_log/<v>.json with PutIfAbsent
// only, and on a lost race checks the winning commits for conflicts
// (conflict.go) before retrying at the next version.
//
// A Transaction is not safe for concurrent use and commits at most once.
type Transaction struct {
	table       *Table
	read        *Snapshot // nil when creating the table
	readVersion int64     // -1 when creating the table
	operation   string
	txnID       string

	opParams  map[string]any
	opMetrics map[string]any

	adds        []*Add
	addKeys     map[FileKey]*Add
	removes     []*Remove
	removeKeys  map[FileKey]*Remove
	removePaths map[string]bool
	metadata    *Metadata
	protocol    *Protocol
	txns        []SetTransaction
	txnVersions map[string]int64
	domains     map[string]DomainMetadata
	domainOrder []string

	readApps  map[string]bool
	readFiles map[string]bool
	readWhole bool

	err  error // the first invalid call; Commit returns it
	done bool
}

// Begin starts a transaction that reads this snapshot. operation is what
// commitInfo records: "WRITE", "MERGE", "OPTIMIZE", ...
func (s *Snapshot) Begin(operation string) *Transaction {
	return newTransaction(s.table, s, s.Version(), operation)
}

func newTransaction(t *Table, read *Snapshot, readVersion int64, operation string) *Transaction {
	return &Transaction{
		table:       t,
		read:        read,
		readVersion: readVersion,
		operation:   operation,
		txnID:       uuid.NewString(),
		addKeys:     map[FileKey]*Add{},
		removeKeys:  map[FileKey]*Remove{},
		removePaths: map[string]bool{},
		txnVersions: map[string]int64{},
		domains:     map[string]DomainMetadata{},
		readApps:    map[string]bool{},
		readFiles:   map[string]bool{},
	}
}

// ID is the transaction's unique id, recorded as commitInfo.txnId. It is
// how Commit recognises its own commit after an ambiguous write.
func (tx *Transaction) ID() string { return tx.txnID }

func (tx *Transaction) fail(format string, args ...any) {
	if tx.err == nil {
		tx.err = fmt.Errorf(format, args...)
	}
}

// Add adds data files. Adding the same logical file twice with identical
// actions is harmless; with different actions Commit fails.
func (tx *Transaction) Add(adds ...*Add) {
	for _, a := range adds {
		if a == nil || a.Path == "" {
			tx.fail("add: empty path")
			continue
		}
		k := a.Key()
		if prev, ok := tx.addKeys[k]; ok {
			if !reflect.DeepEqual(prev, a) {
				tx.fail("add %s: two different add actions for one file", a.Path)
			}
			continue
		}
		tx.addKeys[k] = a
		tx.adds = append(tx.adds, a)
	}
}

// Remove adds remove actions (tombstones). Removing the same logical file
// twice with identical actions is harmless; with different ones Commit fails.
func (tx *Transaction) Remove(rs ...*Remove) {
	for _, r := range rs {
		if r == nil || r.Path == "" {
			tx.fail("remove: empty path")
			continue
		}
		k := r.Key()
		if prev, ok := tx.removeKeys[k]; ok {
			if !reflect.DeepEqual(prev, r) {
				tx.fail("remove %s: two different remove actions for one file", r.Path)
			}
			continue
		}
		tx.removeKeys[k] = r
		tx.removePaths[r.Path] = true
		tx.removes = append(tx.removes, r)
	}
}

// RemoveFile removes the file a describes, carrying its size, partition
// values and deletion vector (extendedFileMetadata=true) and stamping
// deletionTimestamp with the table's clock. dataChange is false only for
// rewrites that keep the same rows (compaction).
func (tx *Transaction) RemoveFile(a *Add, dataChange bool) {
	now := tx.table.opts.Now().UnixMilli()
	ext := true
	size := a.Size
	pv := a.PartitionValues
	if pv == nil {
		pv = map[string]*string{}
	}
	tx.Remove(&Remove{
		Path:                    a.Path,
		DeletionTimestamp:       &now,
		DataChange:              dataChange,
		ExtendedFileMetadata:    &ext,
		PartitionValues:         pv,
		Size:                    &size,
		Tags:                    a.Tags,
		DeletionVector:          a.DeletionVector,
		BaseRowID:               a.BaseRowID,
		DefaultRowCommitVersion: a.DefaultRowCommitVersion,
	})
}

// SetAppVersion records version as appID's latest committed version (a txn
// action) and registers appID as read: a concurrent commit that also writes
// appID conflicts. Setting one appID to two different versions fails Commit.
func (tx *Transaction) SetAppVersion(appID string, version int64) {
	if appID == "" {
		tx.fail("txn: empty appId")
		return
	}
	tx.readApps[appID] = true
	if prev, ok := tx.txnVersions[appID]; ok {
		if prev != version {
			tx.fail("txn %s: two txn actions for one appId (versions %d and %d)", appID, prev, version)
		}
		return
	}
	tx.txnVersions[appID] = version
	now := tx.table.opts.Now().UnixMilli()
	tx.txns = append(tx.txns, SetTransaction{AppID: appID, Version: version, LastUpdated: &now})
}

// SetMetadata replaces the table's metadata in this commit. The last call
// wins. An empty ID keeps the current table's ID.
func (tx *Transaction) SetMetadata(m Metadata) { tx.metadata = &m }

// SetProtocol replaces the table's protocol in this commit. The last call
// wins.
func (tx *Transaction) SetProtocol(p Protocol) { tx.protocol = &p }

// SetDomain writes a domainMetadata action. A concurrent commit writing the
// same domain conflicts. Two different actions for one domain fail Commit.
func (tx *Transaction) SetDomain(d DomainMetadata) {
	if d.Domain == "" {
		tx.fail("domainMetadata: empty domain")
		return
	}
	if prev, ok := tx.domains[d.Domain]; ok {
		if prev != d {
			tx.fail("domainMetadata %s: two actions for one domain", d.Domain)
		}
		return
	}
	tx.domains[d.Domain] = d
	tx.domainOrder = append(tx.domainOrder, d.Domain)
}

// ReadFiles registers files (paths as in the log) this transaction's result
// depends on: a concurrent commit removing one of them conflicts.
func (tx *Transaction) ReadFiles(paths ...string) {
	for _, p := range paths {
		tx.readFiles[p] = true
	}
}

// ReadWholeTable registers that the result depends on every file: any
// concurrent data-changing add, and any remove, conflicts.
func (tx *Transaction) ReadWholeTable() { tx.readWhole = true }

// SetOperationParameters sets commitInfo.operationParameters.
func (tx *Transaction) SetOperationParameters(m map[string]any) { tx.opParams = maps.Clone(m) }

// SetOperationMetrics adds to commitInfo.operationMetrics, overriding the
// metrics Commit computes (numFiles, numOutputRows, numOutputBytes, ...).
func (tx *Transaction) SetOperationMetrics(m map[string]any) { tx.opMetrics = maps.Clone(m) }

// isBlindAppend is Spark's definition: only adds, and no reads.
func (tx *Transaction) isBlindAppend() bool {
	if tx.readWhole || len(tx.readFiles) > 0 || len(tx.removes) > 0 {
		return false
	}
	for _, a := range tx.adds {
		if !a.DataChange {
			return false
		}
	}
	return true
}

// Commit writes the transaction as the next version and returns it.
//
// On a lost race it reads the commits that won, runs the conflict checks and,
// if none fails, retries at the next free version after a jittered
// exponential backoff, up to Options.MaxCommitAttempts attempts. Errors:
//   - *ConflictError (errors.Is ErrConflict): a winner invalidated this
//     transaction; re-read and redo.
//   - ErrTableExists (wrapped) when creating a table that exists.
//   - *UnsupportedFeatureError (wrapped) for a protocol we cannot write.
//   - an error wrapping ErrCommitAttempts when attempts ran out.
//
// If the store fails ambiguously (the write may or may not have happened),
// Commit retries the same version and recognises its own commit by txnId,
// so a transaction never commits twice. After a successful commit it writes a
// checkpoint when the version is a multiple of the checkpoint interval; a
// checkpoint failure is logged, never returned.
func (tx *Transaction) Commit(ctx context.Context) (int64, error) {
	if tx.done {
		return -1, errors.New("commit: transaction already committed (or failed)")
	}
	if tx.err != nil {
		return -1, fmt.Errorf("commit: %w", tx.err)
	}
	if err := tx.validate(); err != nil {
		return -1, fmt.Errorf("commit: %w", err)
	}
	data, err := tx.encode()
	if err != nil {
		return -1, fmt.Errorf("commit: %w", err)
	}
	tx.done = true
	v, err := tx.commitLoop(ctx, data)
	if err != nil {
		return -1, err
	}
	tx.afterCommit(ctx, v)
	return v, nil
}

// commitLoop tries PutIfAbsent of data at successive versions.
func (tx *Transaction) commitLoop(ctx context.Context, data []byte) (int64, error) {
	t := tx.table
	version := tx.readVersion + 1
	var lastErr error
	storeErrs := 0 // consecutive failed writes that were not lost races
	for attempt := 1; ; attempt++ {
		err := t.store.PutIfAbsent(ctx, commitKey(version), data)
		if err == nil {
			return version, nil
		}
		if ctx.Err() != nil {
			return -1, fmt.Errorf("commit %d: %w", version, err)
		}
		lostRace := errors.Is(err, blob.ErrExist)
		if lostRace {
			t.opts.Logger.Debug("lakelog: commit lost race", "version", version, "attempt", attempt)
		} else {
			// Ambiguous: the write may have happened. The retry at the
			// same version finds out (catchUp recognises our txnId).
			t.opts.Logger.Warn("lakelog: commit write failed, retrying", "version", version, "attempt", attempt, "err", err)
		}
		lastErr = fmt.Errorf("commit %d: %w", version, err)
		if lostRace {
			storeErrs = 0
		} else {
			storeErrs++
		}
		// Lost races are progress (someone committed); a store that keeps
		// failing is not, and waiting out every attempt would stall a job
		// for most of a minute. Give up sooner and let the job be retried.
		if attempt >= t.opts.MaxCommitAttempts || storeErrs >= maxConsecutiveStoreErrors {
			return -1, &AttemptsError{Attempts: attempt, Err: lastErr}
		}
		if err := sleepCtx(ctx, backoff(attempt)); err != nil {
			return -1, fmt.Errorf("commit %d: %w", version, err)
		}
		if lostRace {
			// Read the winners after the pause, so that the next attempt
			// targets the version that is free now.
			next, ours, err := tx.catchUp(ctx, version)
			var conflict *ConflictError
			switch {
			case errors.As(err, &conflict) || errors.Is(err, ErrTableExists) || ctx.Err() != nil:
				return -1, err
			case err != nil:
				// A failed read: try again (the PutIfAbsent at the same
				// version fails fast and leads back here). Giving up now
				// could report failure for a commit of ours that landed.
				t.opts.Logger.Warn("lakelog: reading winning commits failed, retrying", "version", version, "attempt", attempt, "err", err)
				lastErr = err
				continue
			}
			if ours >= 0 {
				return ours, nil
			}
			version = next
		}
	}
}

// catchUp reads the commits from version on until the first missing one.
// If one of them is ours (same txnId) it returns its version as ours;
// otherwise it checks each for conflicts and returns the first free version.
func (tx *Transaction) catchUp(ctx context.Context, version int64) (next, ours int64, err error) {
	for v := version; ; v++ {
		c, err := tx.table.readCommit(ctx, v)
		if errors.Is(err, blob.ErrNotExist) {
			return v, -1, nil
		}
		if err != nil {
			return -1, -1, err
		}
		if id, _ := c.CommitInfo["txnId"].(string); id == tx.txnID {
			return -1, v, nil
		}
		if tx.readVersion < 0 {
			return -1, -1, fmt.Errorf("commit %d: %w", v, ErrTableExists)
		}
		if conflict := tx.checkConflicts(c); conflict != nil {
			return -1, -1, conflict
		}
	}
}

// ErrCommitAttempts is matched by *AttemptsError.
var ErrCommitAttempts = errors.New("commit attempts exhausted")

// maxConsecutiveStoreErrors bounds the retries of a commit whose writes keep
// failing with store errors (not lost races): with the backoff this is a few
// seconds, after which Commit returns an *AttemptsError wrapping the last
// (usually transient) store error.
const maxConsecutiveStoreErrors = 8

// AttemptsError is returned when Commit gave up after Attempts attempts
// without a conflict (heavy contention or a failing store). Err is the last
// attempt's error. If that was an ambiguous store error the commit's outcome
// is unknown: the next reader sees either all of it or none of it.
type AttemptsError struct {
	Attempts int
	Err      error
}

func (e *AttemptsError) Error() string {
	return fmt.Sprintf("%s after %d attempts: %v", ErrCommitAttempts, e.Attempts, e.Err)
}

// Is makes errors.Is(err, ErrCommitAttempts) true.
func (e *AttemptsError) Is(target error) bool { return target == ErrCommitAttempts }

// Unwrap returns the last attempt's error.
func (e *AttemptsError) Unwrap() error { return e.Err }

// afterCommit writes the checkpoint for version v when it is due: at
// every interval-th version, or at any version when the snapshot read
// replayed a whole interval of commits after its checkpoint (the due one
// failed or its writer died; without the catch-up, every reader would
// replay up to twice the interval, and more after each further miss).
func (tx *Transaction) afterCommit(ctx context.Context, v int64) {
	t := tx.table
	meta := tx.effectiveMetadata()
	interval := t.checkpointInterval(meta)
	if v <= 0 || interval <= 0 {
		return
	}
	overdue := tx.read != nil && tx.read.tail >= interval
	if v%int64(interval) != 0 && !overdue {
		return
	}
	snap, err := t.SnapshotAt(ctx, v)
	if err == nil {
		err = t.Checkpoint(ctx, snap)
	}
	if err != nil {
		t.opts.Logger.Warn("lakelog: checkpoint failed", "version", v, "err", err)
	}
}

// checkpointInterval is Options.CheckpointInterval, else the table's
// delta.checkpointInterval, else 10.
func (t *Table) checkpointInterval(meta *Metadata) int {
	if t.opts.CheckpointInterval > 0 {
		return t.opts.CheckpointInterval
	}
	if meta != nil {
		if s, ok := meta.Configuration["delta.checkpointInterval"]; ok {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				return n
			}
		}
	}
	return 10
}

func (tx *Transaction) effectiveMetadata() *Metadata {
	if tx.metadata != nil {
		return tx.metadata
	}
	if tx.read != nil {
		m := tx.read.Metadata()
		return &m
	}
	return nil
}

func (tx *Transaction) effectiveProtocol() *Protocol {
	if tx.protocol != nil {
		return tx.protocol
	}
	if tx.read != nil {
		p := tx.read.Protocol()
		return &p
	}
	return nil
}

// encode builds the commit file: commitInfo first (as Spark writes it), then
// protocol, metaData, domainMetadata, txn, remove and add actions.
func (tx *Transaction) encode() ([]byte, error) {
	actions := make([]Action, 0, 4+len(tx.txns)+len(tx.domains)+len(tx.removes)+len(tx.adds))
	actions = append(actions, Action{CommitInfo: tx.commitInfo()})
	if tx.protocol != nil {
		actions = append(actions, Action{Protocol: tx.protocol})
	}
	if tx.metadata != nil {
		actions = append(actions, Action{MetaData: tx.metadata})
	}
	for _, name := range tx.domainOrder {
		d := tx.domains[name]
		actions = append(actions, Action{DomainMetadata: &d})
	}
	for i := range tx.txns {
		actions = append(actions, Action{Txn: &tx.txns[i]})
	}
	for _, r := range tx.removes {
		actions = append(actions, Action{Remove: r})
	}
	for _, a := range tx.adds {
		actions = append(actions, Action{Add: a})
	}
	return EncodeCommit(actions)
}

func (tx *Transaction) commitInfo() map[string]any {
	var rows, outBytes, removedBytes int64
	for _, a := range tx.adds {
		outBytes += a.Size
		if st, err := a.ParsedStats(); err == nil && st != nil {
			rows += st.NumRecords
		}
	}
	for _, r := range tx.removes {
		if r.Size != nil {
			removedBytes += *r.Size
		}
	}
	// Spark writes metric values as strings.
	metrics := map[string]any{
		"numFiles":       strconv.Itoa(len(tx.adds)),
		"numOutputRows":  strconv.FormatInt(rows, 10),
		"numOutputBytes": strconv.FormatInt(outBytes, 10),
	}
	if len(tx.removes) > 0 {
		metrics["numRemovedFiles"] = strconv.Itoa(len(tx.removes))
		metrics["numRemovedBytes"] = strconv.FormatInt(removedBytes, 10)
		metrics["numAddedFiles"] = strconv.Itoa(len(tx.adds))
	}
	maps.Copy(metrics, tx.opMetrics)
	params := tx.opParams
	if params == nil {
		params = map[string]any{}
	}
	ci := map[string]any{
		"timestamp":           tx.table.opts.Now().UnixMilli(),
		"operation":           tx.operation,
		"operationParameters": params,
		"isolationLevel":      "WriteSerializable",
		"isBlindAppend":       tx.isBlindAppend(),
		"operationMetrics":    metrics,
		"engineInfo":          engineInfo(),
		"txnId":               tx.txnID,
	}
	if tx.readVersion >= 0 {
		ci["readVersion"] = tx.readVersion
	}
	return ci
}

// validate checks the transaction against the table it commits to: writable
// protocol, append-only, domain metadata feature, one action per file.
func (tx *Transaction) validate() error {
	proto := tx.effectiveProtocol()
	if proto == nil {
		return errors.New("no protocol")
	}
	if tx.read != nil {
		// The table as it is must be writable, not only as it will be.
		if err := checkWritable(tx.read.Protocol()); err != nil {
			return err
		}
	}
	if err := checkWritable(*proto); err != nil {
		return err
	}
	meta := tx.effectiveMetadata()
	if meta == nil {
		return errors.New("no metadata")
	}
	if tx.metadata != nil {
		if tx.metadata.ID == "" && tx.read != nil {
			tx.metadata.ID = tx.read.Metadata().ID
		}
		if err := validateMetadata(tx.metadata); err != nil {
			return err
		}
	}
	if err := checkConfigurationSupported(*proto, meta); err != nil {
		return err
	}
	if tx.metadata == nil {
		// The current schema may carry column invariants (legacy writer
		// version 2), which we cannot enforce.
		if err := checkNoInvariants(tx.read.Schema()); err != nil {
			return err
		}
	}
	if len(tx.domains) > 0 && !hasWriterFeature(*proto, writeFeatureDomainMetadata) {
		return fmt.Errorf("domainMetadata %s: the table's protocol lacks writer feature %q", tx.domainOrder[0], writeFeatureDomainMetadata)
	}
	if isAppendOnly(meta) {
		for _, r := range tx.removes {
			if r.DataChange {
				return fmt.Errorf("remove %s: table is append-only (delta.appendOnly=true); only dataChange=false removes are allowed", r.Path)
			}
		}
	}
	for k := range tx.addKeys {
		if _, ok := tx.removeKeys[k]; ok {
			return fmt.Errorf("file %s: both added and removed in one commit", k.Path)
		}
	}
	return nil
}

// engineInfo is "sluice/<module version>" as commitInfo.engineInfo.
var engineInfo = sync.OnceValue(func() string {
	version := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok {
		const mod = "github.com/sluicehq/sluice"
		if bi.Main.Path == mod && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == mod {
				version = d.Version
			}
		}
	}
	return "sluice/" + version
})
