package lakelog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// This file defines the Delta log actions (PROTOCOL.md §Actions) and their
// newline-delimited JSON encoding. JSON field names are exactly the spec's.
// Decoding is lenient: unknown fields and unknown actions are ignored
// (§Protocol Evolution).

// Protocol is the "protocol" action: the reader/writer versions and, for
// table-features protocols (reader 3 / writer 7), the feature lists.
type Protocol struct {
	MinReaderVersion int      `json:"minReaderVersion"`
	MinWriterVersion int      `json:"minWriterVersion"`
	ReaderFeatures   []string `json:"readerFeatures,omitempty"`
	WriterFeatures   []string `json:"writerFeatures,omitempty"`
}

// MarshalJSON writes readerFeatures exactly when minReaderVersion is 3 and
// writerFeatures exactly when minWriterVersion is 7, as [] when empty: the
// spec requires the lists to be present for those versions (§Table Features).
func (p Protocol) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"minReaderVersion":`)
	b.WriteString(strconv.Itoa(p.MinReaderVersion))
	b.WriteString(`,"minWriterVersion":`)
	b.WriteString(strconv.Itoa(p.MinWriterVersion))
	writeList := func(name string, list []string) error {
		if list == nil {
			list = []string{}
		}
		j, err := json.Marshal(list)
		if err != nil {
			return err
		}
		b.WriteString(`,"` + name + `":`)
		b.Write(j)
		return nil
	}
	if p.MinReaderVersion >= 3 || len(p.ReaderFeatures) > 0 {
		if err := writeList("readerFeatures", p.ReaderFeatures); err != nil {
			return nil, err
		}
	}
	if p.MinWriterVersion >= 7 || len(p.WriterFeatures) > 0 {
		if err := writeList("writerFeatures", p.WriterFeatures); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Format is metaData.format.
type Format struct {
	Provider string            `json:"provider"`
	Options  map[string]string `json:"options"`
}

// Metadata is the "metaData" action. A later metaData replaces the whole
// previous one.
type Metadata struct {
	ID               string            `json:"id"`
	Name             string            `json:"name,omitempty"`
	Description      string            `json:"description,omitempty"`
	Format           Format            `json:"format"`
	SchemaString     string            `json:"schemaString"`
	PartitionColumns []string          `json:"partitionColumns"`
	Configuration    map[string]string `json:"configuration"`
	CreatedTime      *int64            `json:"createdTime,omitempty"`
}

// MarshalJSON writes the required collections as {} / [] rather than null.
func (m Metadata) MarshalJSON() ([]byte, error) {
	type plain Metadata
	c := plain(m)
	if c.Format.Provider == "" {
		c.Format.Provider = "parquet"
	}
	if c.Format.Options == nil {
		c.Format.Options = map[string]string{}
	}
	if c.PartitionColumns == nil {
		c.PartitionColumns = []string{}
	}
	if c.Configuration == nil {
		c.Configuration = map[string]string{}
	}
	return marshalNoEscape(c)
}

// DeletionVector is a deletion-vector descriptor (§Deletion Vectors).
type DeletionVector struct {
	StorageType    string `json:"storageType"` // "u" (relative path), "i" (inline), "p" (absolute path)
	PathOrInlineDv string `json:"pathOrInlineDv"`
	Offset         *int32 `json:"offset,omitempty"`
	SizeInBytes    int32  `json:"sizeInBytes"`
	Cardinality    int64  `json:"cardinality"`
}

// UniqueID is the descriptor's unique id: storageType + pathOrInlineDv,
// plus "@offset" when an offset is set (§Deletion Vectors).
func (d *DeletionVector) UniqueID() string {
	if d == nil {
		return ""
	}
	id := d.StorageType + d.PathOrInlineDv
	if d.Offset != nil {
		id += "@" + strconv.FormatInt(int64(*d.Offset), 10)
	}
	return id
}

// FileKey is the logical file key of §Action Reconciliation: the path plus
// the deletion vector's unique id ("" without one). Path is the log's path
// with local absolute forms canonicalized (see canonicalPath); relative
// paths, the normal case, are exactly as written in the log.
type FileKey struct {
	Path string
	DVID string
}

// canonicalPath makes the spellings Spark treats as one absolute local file
// equal: "file:///x", "file:/x" and "/x" all become "/x" (golden tables
// canonicalized-paths-*). Everything else is returned unchanged.
func canonicalPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "file:///"); ok {
		return "/" + rest
	}
	if rest, ok := strings.CutPrefix(p, "file:/"); ok {
		return "/" + rest
	}
	return p
}

// Add is the "add" action: a data file (plus optional deletion vector) that
// becomes part of the table.
//
// Path is kept exactly as written in the log: a URI reference relative to
// the table root (or, rarely, an absolute URI). Use DecodedPath to get the
// object-store key relative to the table root.
type Add struct {
	Path                    string             `json:"path"`
	PartitionValues         map[string]*string `json:"partitionValues"`
	Size                    int64              `json:"size"`
	ModificationTime        int64              `json:"modificationTime"`
	DataChange              bool               `json:"dataChange"`
	Stats                   string             `json:"stats,omitempty"`
	Tags                    map[string]string  `json:"tags,omitempty"`
	DeletionVector          *DeletionVector    `json:"deletionVector,omitempty"`
	BaseRowID               *int64             `json:"baseRowId,omitempty"`
	DefaultRowCommitVersion *int64             `json:"defaultRowCommitVersion,omitempty"`
	ClusteringProvider      string             `json:"clusteringProvider,omitempty"`
}

// MarshalJSON writes partitionValues as {} when empty (it is required).
func (a Add) MarshalJSON() ([]byte, error) {
	type plain Add
	c := plain(a)
	if c.PartitionValues == nil {
		c.PartitionValues = map[string]*string{}
	}
	return marshalNoEscape(c)
}

// Key returns the logical file key (path + deletion-vector unique id).
func (a *Add) Key() FileKey {
	return FileKey{Path: canonicalPath(a.Path), DVID: a.DeletionVector.UniqueID()}
}

// DecodedPath returns Path URI-decoded (RFC 2396), e.g. "special%20p@%23h"
// becomes "special p@#h". For a relative path this is the object-store key
// relative to the table root.
func (a *Add) DecodedPath() (string, error) { return DecodePath(a.Path) }

// Remove is the "remove" action: a tombstone for a logical file.
type Remove struct {
	Path                    string             `json:"path"`
	DeletionTimestamp       *int64             `json:"deletionTimestamp,omitempty"`
	DataChange              bool               `json:"dataChange"`
	ExtendedFileMetadata    *bool              `json:"extendedFileMetadata,omitempty"`
	PartitionValues         map[string]*string `json:"partitionValues,omitempty"`
	Size                    *int64             `json:"size,omitempty"`
	Stats                   string             `json:"stats,omitempty"`
	Tags                    map[string]string  `json:"tags,omitempty"`
	DeletionVector          *DeletionVector    `json:"deletionVector,omitempty"`
	BaseRowID               *int64             `json:"baseRowId,omitempty"`
	DefaultRowCommitVersion *int64             `json:"defaultRowCommitVersion,omitempty"`
}

// Key returns the logical file key (path + deletion-vector unique id).
func (r *Remove) Key() FileKey {
	return FileKey{Path: canonicalPath(r.Path), DVID: r.DeletionVector.UniqueID()}
}

// DecodedPath returns Path URI-decoded; see Add.DecodedPath.
func (r *Remove) DecodedPath() (string, error) { return DecodePath(r.Path) }

// DecodePath URI-decodes a path from the log (RFC 2396 escapes, "%20" etc.).
// "+" is kept as is: it is not a space in a URI path.
func DecodePath(p string) (string, error) {
	d, err := url.PathUnescape(p)
	if err != nil {
		return "", fmt.Errorf("decode path %q: %w", p, err)
	}
	return d, nil
}

// SetTransaction is the "txn" action: the latest version an application
// (appId) committed, used for exactly-once writes.
type SetTransaction struct {
	AppID       string `json:"appId"`
	Version     int64  `json:"version"`
	LastUpdated *int64 `json:"lastUpdated,omitempty"`
}

// DomainMetadata is the "domainMetadata" action. Configuration is an opaque
// string (JSON for the delta.* system domains).
type DomainMetadata struct {
	Domain        string `json:"domain"`
	Configuration string `json:"configuration"`
	Removed       bool   `json:"removed"`
}

// AddCDCFile is the "cdc" action: a change-data file. Replay ignores it.
type AddCDCFile struct {
	Path            string             `json:"path"`
	PartitionValues map[string]*string `json:"partitionValues"`
	Size            int64              `json:"size"`
	DataChange      bool               `json:"dataChange"`
	Tags            map[string]string  `json:"tags,omitempty"`
}

// CheckpointMetadata is the "checkpointMetadata" action of a v2 checkpoint.
type CheckpointMetadata struct {
	Version int64             `json:"version"`
	Tags    map[string]string `json:"tags,omitempty"`
}

// Sidecar is the "sidecar" action of a v2 checkpoint: a file in
// _delta_log/_sidecars/ holding add/remove actions.
type Sidecar struct {
	Path             string            `json:"path"`
	SizeInBytes      int64             `json:"sizeInBytes"`
	ModificationTime int64             `json:"modificationTime"`
	Tags             map[string]string `json:"tags,omitempty"`
}

// Action is one line of a commit file: exactly one field is set.
type Action struct {
	Add                *Add                `json:"add,omitempty"`
	Remove             *Remove             `json:"remove,omitempty"`
	MetaData           *Metadata           `json:"metaData,omitempty"`
	Protocol           *Protocol           `json:"protocol,omitempty"`
	Txn                *SetTransaction     `json:"txn,omitempty"`
	DomainMetadata     *DomainMetadata     `json:"domainMetadata,omitempty"`
	CommitInfo         map[string]any      `json:"commitInfo,omitempty"`
	Cdc                *AddCDCFile         `json:"cdc,omitempty"`
	CheckpointMetadata *CheckpointMetadata `json:"checkpointMetadata,omitempty"`
	Sidecar            *Sidecar            `json:"sidecar,omitempty"`
}

// kinds counts the set fields; a valid action has exactly one.
func (a *Action) kinds() int {
	n := 0
	for _, set := range []bool{a.Add != nil, a.Remove != nil, a.MetaData != nil, a.Protocol != nil,
		a.Txn != nil, a.DomainMetadata != nil, a.CommitInfo != nil, a.Cdc != nil,
		a.CheckpointMetadata != nil, a.Sidecar != nil} {
		if set {
			n++
		}
	}
	return n
}

// errEmptyAction is returned when encoding an Action with no field set.
var errEmptyAction = errors.New("action has no field set")

// MarshalLine encodes one action as a single JSON line (no trailing newline),
// e.g. {"add":{...}}. It refuses an action with zero or several fields set.
func (a *Action) MarshalLine() ([]byte, error) {
	switch n := a.kinds(); {
	case n == 0:
		return nil, errEmptyAction
	case n > 1:
		return nil, fmt.Errorf("action has %d fields set, want 1", n)
	}
	return marshalNoEscape(a)
}

// EncodeCommit encodes actions as a commit file: one JSON action per line,
// each line terminated by "\n".
func EncodeCommit(actions []Action) ([]byte, error) {
	var b bytes.Buffer
	for i := range actions {
		line, err := actions[i].MarshalLine()
		if err != nil {
			return nil, fmt.Errorf("action %d: %w", i, err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// DecodeCommit parses a newline-delimited JSON commit file. Blank lines,
// unknown fields and unknown actions are skipped; a line that is not JSON is
// an error naming its line number.
func DecodeCommit(data []byte) ([]Action, error) {
	var actions []Action
	line := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), len(data)+1)
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var a Action
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if a.kinds() == 0 {
			continue // an action type we do not know: ignore (§Protocol Evolution)
		}
		actions = append(actions, a)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return actions, nil
}

// marshalNoEscape is json.Marshal without HTML escaping (so "<" stays "<"
// as other Delta writers write it) and without the trailing newline.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
