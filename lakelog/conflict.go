package lakelog

import (
	"errors"
	"fmt"
)

// This file holds the conflict checks a transaction runs against each commit
// that won the race for a version it wanted (DELTA-NOTES §1.8, after Spark's
// ConflictChecker.checkConflicts). A commit that passes every check commutes
// with ours, so ours can be retried unchanged at the next version.

// ErrConflict is matched (errors.Is) by every *ConflictError.
var ErrConflict = errors.New("concurrent commit conflict")

// ConflictKind names the rule a concurrent commit broke.
type ConflictKind string

// The conflict kinds, in the order the checks run.
const (
	// ConflictProtocolChanged: a winner changed the protocol.
	ConflictProtocolChanged ConflictKind = "ProtocolChanged"
	// ConflictMetadataChanged: a winner changed the metadata, or we change
	// the metadata or protocol while a winner added data.
	ConflictMetadataChanged ConflictKind = "MetadataChanged"
	// ConflictDomain: a winner wrote a domainMetadata domain we also write.
	ConflictDomain ConflictKind = "ConcurrentDomainMetadata"
	// ConflictTransaction: a winner wrote a txn for an appId we read or set
	// (Spark's ConcurrentTransactionException).
	ConflictTransaction ConflictKind = "ConcurrentTransaction"
	// ConflictAppend: a winner added data files while we read the whole
	// table (Spark's ConcurrentAppendException).
	ConflictAppend ConflictKind = "ConcurrentAppend"
	// ConflictDeleteRead: a winner removed a file we read.
	ConflictDeleteRead ConflictKind = "ConcurrentDeleteRead"
	// ConflictDeleteDelete: a winner removed a file we also remove.
	ConflictDeleteDelete ConflictKind = "ConcurrentDeleteDelete"
)

// ConflictError is returned by Transaction.Commit when a concurrent commit
// makes ours invalid: retrying would not help, the caller must re-read the
// table and redo its work.
type ConflictError struct {
	Version int64        // the winning commit's version
	Kind    ConflictKind // which rule it broke
	Detail  string       // e.g. the file or appId involved
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: commit %d conflicts: %s", ErrConflict, e.Version, e.Kind) + detailSuffix(e.Detail)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

func detailSuffix(d string) string {
	if d == "" {
		return ""
	}
	return " (" + d + ")"
}

// checkConflicts runs the §1.8 checks of our transaction against one winning
// commit, in Spark's order, and returns the first conflict or nil.
func (tx *Transaction) checkConflicts(winner Commit) *ConflictError {
	conflict := func(kind ConflictKind, format string, args ...any) *ConflictError {
		return &ConflictError{Version: winner.Version, Kind: kind, Detail: fmt.Sprintf(format, args...)}
	}
	// 1. protocol change.
	for _, a := range winner.Actions {
		if a.Protocol != nil {
			return conflict(ConflictProtocolChanged, "protocol (%d,%d)", a.Protocol.MinReaderVersion, a.Protocol.MinWriterVersion)
		}
	}
	// 2. metadata change; also, since our own schema or protocol change
	// reinterprets every file, no concurrent data may slip in under it.
	for _, a := range winner.Actions {
		if a.MetaData != nil {
			return conflict(ConflictMetadataChanged, "metaData %s", a.MetaData.ID)
		}
	}
	if tx.metadata != nil || tx.protocol != nil {
		for _, a := range winner.Actions {
			if a.Add != nil && a.Add.DataChange {
				return conflict(ConflictMetadataChanged, "file %s added while this commit changes the table's metadata", a.Add.Path)
			}
		}
	}
	// 3. same domain.
	for _, a := range winner.Actions {
		if a.DomainMetadata != nil {
			if _, ours := tx.domains[a.DomainMetadata.Domain]; ours {
				return conflict(ConflictDomain, "domain %s", a.DomainMetadata.Domain)
			}
		}
	}
	// 4. txn on an appId we read or set.
	for _, a := range winner.Actions {
		if a.Txn != nil && tx.readApps[a.Txn.AppID] {
			return conflict(ConflictTransaction, "appId %s version %d", a.Txn.AppID, a.Txn.Version)
		}
	}
	// 5. data added while we read the whole table. (We keep no read
	// predicates, so with a partial read only removals of read files count.)
	if tx.readWhole {
		for _, a := range winner.Actions {
			if a.Add != nil && a.Add.DataChange {
				return conflict(ConflictAppend, "file %s added", a.Add.Path)
			}
		}
	}
	// 6. a file we read was removed (any removal when we read everything).
	for _, a := range winner.Actions {
		if a.Remove == nil {
			continue
		}
		if tx.readWhole || tx.readFiles[a.Remove.Path] {
			return conflict(ConflictDeleteRead, "file %s removed", a.Remove.Path)
		}
	}
	// 7. a file we remove was removed.
	for _, a := range winner.Actions {
		if a.Remove == nil {
			continue
		}
		if tx.removePaths[a.Remove.Path] {
			return conflict(ConflictDeleteDelete, "file %s removed by both", a.Remove.Path)
		}
	}
	return nil
}
