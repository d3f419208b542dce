package lakelog

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// Snapshot is the reconciled state of a table at one version: protocol,
// metadata, active files, tombstones, txn app versions and domains. It is
// immutable and safe for concurrent use; callers must not modify the
// values it returns pointers to.
type Snapshot struct {
	table      *Table
	version    int64
	protocol   Protocol
	metadata   Metadata
	schema     *StructType
	files      []*Add    // sorted by path, then deletion-vector id
	tombstones []*Remove // sorted by path, then deletion-vector id
	txns       map[string]SetTransaction
	domains    map[string]DomainMetadata
	// tail is how many commit files were replayed after the checkpoint
	// (all of them without one): a due checkpoint that was never written
	// shows as a tail of a whole interval or more.
	tail int
}

// newSnapshot checks a replayed state and freezes it.
func newSnapshot(t *Table, version int64, st *replayState) (*Snapshot, error) {
	if st.protocol == nil {
		return nil, fmt.Errorf("snapshot %d: table has no protocol action", version)
	}
	if err := st.protocol.CheckReadable(); err != nil {
		return nil, fmt.Errorf("snapshot %d: %w", version, err)
	}
	if st.metadata == nil {
		return nil, fmt.Errorf("snapshot %d: table has no metaData action", version)
	}
	// Some old Spark tables (golden canonicalized-paths-*) have a metaData
	// without schemaString; their log is still readable, with no columns.
	schema := &StructType{}
	if st.metadata.SchemaString != "" {
		var err error
		if schema, err = ParseSchema(st.metadata.SchemaString); err != nil {
			return nil, fmt.Errorf("snapshot %d: %w", version, err)
		}
	}
	s := &Snapshot{
		table:    t,
		version:  version,
		protocol: *st.protocol,
		metadata: *st.metadata,
		schema:   schema,
		txns:     st.txns,
		domains:  st.domains,
	}
	s.files = make([]*Add, 0, len(st.files))
	for _, a := range st.files {
		s.files = append(s.files, a)
	}
	slices.SortFunc(s.files, func(a, b *Add) int { return compareFiles(a.Path, b.Path, a.DeletionVector, b.DeletionVector) })
	s.tombstones = make([]*Remove, 0, len(st.tombstones))
	for _, r := range st.tombstones {
		s.tombstones = append(s.tombstones, r)
	}
	slices.SortFunc(s.tombstones, func(a, b *Remove) int {
		return compareFiles(a.Path, b.Path, a.DeletionVector, b.DeletionVector)
	})
	return s, nil
}

// compareFiles orders by path, then deletion-vector id (computed only on a
// path tie: it allocates).
func compareFiles(pa, pb string, da, db *DeletionVector) int {
	if c := cmp.Compare(pa, pb); c != 0 {
		return c
	}
	if da == nil && db == nil {
		return 0
	}
	return cmp.Compare(da.UniqueID(), db.UniqueID())
}

// Table returns the table the snapshot was read from.
func (s *Snapshot) Table() *Table { return s.table }

// Version returns the snapshot's table version.
func (s *Snapshot) Version() int64 { return s.version }

// Protocol returns the latest protocol action.
func (s *Snapshot) Protocol() Protocol { return s.protocol }

// Metadata returns the latest metaData action.
func (s *Snapshot) Metadata() Metadata { return s.metadata }

// Schema returns the parsed table schema.
func (s *Snapshot) Schema() *StructType { return s.schema }

// Files returns the active files, sorted by path (then deletion-vector
// id). Paths are as written in the log; see Add.DecodedPath.
func (s *Snapshot) Files() []*Add { return s.files }

// Tombstones returns every remove action not superseded by a later add,
// whatever its deletionTimestamp (expiry is the checkpoint writer's and
// VACUUM's business), sorted like Files.
func (s *Snapshot) Tombstones() []*Remove { return s.tombstones }

// AppVersion returns the latest txn version of appID.
func (s *Snapshot) AppVersion(appID string) (int64, bool) {
	t, ok := s.txns[appID]
	return t.Version, ok
}

// AppVersions returns the latest txn version of every appId (a new map).
func (s *Snapshot) AppVersions() map[string]int64 {
	m := make(map[string]int64, len(s.txns))
	for id, t := range s.txns {
		m[id] = t.Version
	}
	return m
}

// Txns returns the latest txn action of every appId, sorted by appId
// (checkpoint writers need lastUpdated too).
func (s *Snapshot) Txns() []SetTransaction {
	return slices.SortedFunc(maps.Values(s.txns), func(a, b SetTransaction) int { return cmp.Compare(a.AppID, b.AppID) })
}

// Domain returns the configuration of a domain that is present (not
// removed).
func (s *Snapshot) Domain(name string) (configuration string, ok bool) {
	d, ok := s.domains[name]
	return d.Configuration, ok
}

// Domains returns every present domain, sorted by name.
func (s *Snapshot) Domains() []DomainMetadata {
	return slices.SortedFunc(maps.Values(s.domains), func(a, b DomainMetadata) int { return cmp.Compare(a.Domain, b.Domain) })
}
