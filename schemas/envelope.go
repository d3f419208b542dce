package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// ErrTombstone is returned by DecodeEnvelope for a nil or empty record value:
// Kafka's delete marker that Debezium writes after a delete event.
var ErrTombstone = errors.New("tombstone (null value)")

// ErrNotChange is wrapped by DecodeEnvelope's error for a well-formed JSON
// record that is not a row change: a heartbeat or a transaction BEGIN/END
// record. ParseHeader reports these as a Kind instead of an error.
var ErrNotChange = errors.New("not a change event")

// Kind says what a Kafka record value is.
type Kind uint8

// Record kinds recognised by ParseHeader.
const (
	KindChange      Kind = iota // a row change envelope (op c/u/d/r/t)
	KindTombstone               // nil or empty value
	KindHeartbeat               // {"ts_ms":…} only (Debezium heartbeat topic)
	KindTransaction             // {"status":"BEGIN"|"END","id":…} (transaction topic)
)

func (k Kind) String() string {
	switch k {
	case KindChange:
		return "change"
	case KindTombstone:
		return "tombstone"
	case KindHeartbeat:
		return "heartbeat"
	case KindTransaction:
		return "transaction"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Transaction is the envelope's optional "transaction" block (Debezium's
// provide.transaction.metadata), or a transaction-topic record.
type Transaction struct {
	ID                  string
	TotalOrder          int64
	DataCollectionOrder int64
	// Status is "BEGIN" or "END" for transaction-topic records, "" inside a
	// change envelope.
	Status string
	// EventCount is the END record's event_count.
	EventCount int64
}

// Header is what ingest needs from a record value to route and order it,
// extracted without materialising before/after.
type Header struct {
	Kind   Kind
	Op     Op     // zero unless Kind == KindChange
	Source Source // zero unless Kind == KindChange
	// TsMs is the envelope's ts_ms (connector processing time), 0 if absent.
	TsMs int64
	// OrderingKey is Source.OrderingKey(); "" when the source block lacks the
	// fields it needs (e.g. a MySQL event without file), see OrderingErr.
	OrderingKey string
	OrderingErr error
	// TransactionID is the transaction block's id (or the transaction
	// record's id for KindTransaction), "" when absent.
	TransactionID string
	// HasSchema reports the {"schema":…,"payload":…} form.
	HasSchema bool
}

// ParseHeader extracts op, source, ts_ms and the ordering key from a record
// value, bare or schema-wrapped, skipping before/after/schema without decoding
// them. Tombstones, heartbeats and transaction records are not errors: they
// come back with the matching Kind. Errors name what is wrong: "value is not
// JSON", "no envelope: missing op", "unknown op \"x\"", "source: …".
//
// ParseHeader is safe for concurrent use and does not retain value.
func ParseHeader(value []byte) (Header, error) {
	var h Header
	if len(value) == 0 {
		h.Kind = KindTombstone
		return h, nil
	}
	env, hasSchema, err := locateEnvelope(value)
	if err != nil {
		return h, err
	}
	h.HasSchema = hasSchema
	if isNull(env) {
		h.Kind = KindTombstone
		return h, nil
	}
	var (
		opRaw, srcRaw, txRaw []byte
		status, txID         string
		sawStatus, sawTsMs   bool
		others               int
	)
	it := newObjectIter(env, 0)
	for {
		k, vs, ok := it.next()
		if !ok {
			break
		}
		switch k {
		case "op":
			opRaw = it.value(vs)
		case "source":
			srcRaw = it.value(vs)
		case "ts_ms":
			sawTsMs = true
			raw := it.value(vs)
			if it.err == nil {
				v, _, err := rawInt(raw)
				if err != nil {
					return h, fmt.Errorf("envelope ts_ms: %w", err)
				}
				h.TsMs = v
			}
		case "transaction":
			txRaw = it.value(vs)
		case "status":
			sawStatus = true
			status, _ = rawString(it.value(vs))
		case "id":
			txID, _ = rawString(it.value(vs))
		default:
			others++
			end, err := skipValue(env, vs)
			it.skipTo(end, err)
		}
	}
	if it.err != nil || skipSpace(env, it.i) != len(env) {
		return h, errSyntax
	}
	if opRaw == nil {
		switch {
		case sawStatus:
			h.Kind = KindTransaction
			h.TransactionID = txID
			_ = status
			return h, nil
		case sawTsMs && srcRaw == nil:
			h.Kind = KindHeartbeat
			return h, nil
		}
		return h, errors.New("no envelope: missing op")
	}
	opStr, err := rawString(opRaw)
	if err != nil {
		return h, fmt.Errorf("envelope op: %w", errSyntax)
	}
	if h.Op, err = ParseOp(opStr); err != nil {
		return h, err
	}
	h.Kind = KindChange
	if srcRaw == nil || isNull(srcRaw) {
		return h, errors.New("no envelope: missing source")
	}
	if err := parseSource(srcRaw, &h.Source); err != nil {
		return h, fmt.Errorf("source: %w", err)
	}
	if txRaw != nil && !isNull(txRaw) {
		var tx Transaction
		if err := parseTransaction(txRaw, &tx); err != nil {
			return h, fmt.Errorf("transaction: %w", err)
		}
		h.TransactionID = tx.ID
	}
	h.OrderingKey, h.OrderingErr = h.Source.OrderingKey()
	return h, nil
}

// SplitWrapped returns the raw "schema" and "payload" members of a value of
// the form {"schema":…,"payload":…} (JsonConverter with schemas), without
// decoding either, so that a reader can decode each distinct schema once.
// ok is false for anything else (bare envelopes, other members, malformed
// JSON); DecodeEnvelope of the whole value then reports errors properly.
func SplitWrapped(value []byte) (schema, payload []byte, ok bool) {
	i := skipSpace(value, 0)
	if i >= len(value) || value[i] != '{' {
		return nil, nil, false
	}
	it := newObjectIter(value, i)
	for {
		k, vs, more := it.next()
		if !more {
			break
		}
		switch k {
		case "schema":
			schema = it.value(vs)
		case "payload":
			payload = it.value(vs)
		default:
			return nil, nil, false
		}
	}
	if it.err != nil || skipSpace(value, it.i) != len(value) {
		return nil, nil, false
	}
	if schema == nil || len(payload) == 0 || payload[0] != '{' {
		return nil, nil, false
	}
	return schema, payload, true
}

// locateEnvelope returns the envelope object: value itself (bare form) or its
// "payload" member when value is {"schema":…,"payload":…}. A bare envelope
// never has a "payload" key and a wrapped one never has "op" at the top.
func locateEnvelope(value []byte) (env []byte, hasSchema bool, err error) {
	i := skipSpace(value, 0)
	if i >= len(value) || value[i] != '{' {
		if i < len(value) && isNull(trimSpace(value[i:])) {
			return []byte("null"), false, nil
		}
		return nil, false, errSyntax
	}
	var payload []byte
	sawSchema, sawOther := false, false
	it := newObjectIter(value, i)
	for first := true; ; first = false {
		k, vs, ok := it.next()
		if !ok {
			break
		}
		if first && k != "schema" && k != "payload" {
			// Bare envelope: JsonConverter always writes schema first.
			return value[i:], false, nil
		}
		switch k {
		case "payload":
			payload = it.value(vs)
		case "schema":
			sawSchema = true
			end, err := skipValue(value, vs)
			it.skipTo(end, err)
		default:
			sawOther = true
			end, err := skipValue(value, vs)
			it.skipTo(end, err)
		}
	}
	if it.err != nil {
		return nil, false, errSyntax
	}
	if j := skipSpace(value, it.i); j != len(value) {
		return nil, false, errSyntax
	}
	if payload != nil && !sawOther {
		return payload, sawSchema, nil
	}
	return value[i:], false, nil
}

func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// parseSource fills s from a source block of any connector. Unknown fields
// are ignored; snapshot may be a string (Debezium ≥ 1.x) or a boolean (as in
// Debezium's own documentation).
func parseSource(raw []byte, s *Source) error {
	it := newObjectIter(raw, 0)
	var seqRaw []byte
	sawLSN := false
	for {
		k, v, ok := it.member()
		if !ok {
			break
		}
		var err error
		switch k {
		case "version":
			s.Version, err = rawString(v)
		case "connector":
			s.Connector, err = rawString(v)
		case "name":
			s.Name, err = rawString(v)
		case "ts_ms":
			s.TsMs, _, err = rawInt(v)
		case "snapshot":
			switch {
			case isNull(v):
				s.Snapshot = ""
			case v[0] == '"':
				s.Snapshot, err = rawString(v)
			default:
				s.Snapshot = string(v) // true/false literal
			}
			if s.Snapshot == "false" {
				s.Snapshot = ""
			}
		case "db":
			s.DB, err = rawString(v)
		case "schema":
			s.Schema, err = rawString(v)
		case "table":
			s.Table, err = rawString(v)
		case "sequence":
			seqRaw = v
		case "lsn":
			var ok bool
			s.LSN, ok, err = rawUint(v)
			sawLSN = ok
		case "txId":
			s.TxID, _, err = rawInt(v)
		case "file":
			s.File, err = rawString(v)
		case "pos":
			s.Pos, _, err = rawUint(v)
		case "row":
			var r int64
			r, _, err = rawInt(v)
			s.Row = int(r)
		case "gtid":
			s.GTID, err = rawString(v)
		case "server_id":
			var id uint64
			id, _, err = rawUint(v)
			if id > 1<<32-1 {
				err = fmt.Errorf("server_id %d out of range", id)
			}
			s.ServerID = uint32(id)
		}
		if err != nil {
			return fmt.Errorf("field %q: %w", k, err)
		}
	}
	if it.err != nil {
		return it.err
	}
	if seqRaw != nil && !isNull(seqRaw) && s.Connector == ConnectorPostgres {
		str, err := rawString(seqRaw)
		if err != nil {
			return fmt.Errorf("field \"sequence\": %w", err)
		}
		commit, lsn, hasLSN, err := ParsePostgresSequence(str)
		if err != nil {
			return err
		}
		s.CommitLSN = commit
		if !sawLSN && hasLSN {
			s.LSN = lsn
		}
	}
	return nil
}

// ParsePostgresSequence parses the PostgreSQL source block's "sequence": a
// JSON array of two decimal strings, ["<last commit lsn>","<lsn>"], either of
// which may be null (null reads as 0, which PostgreSQL never uses as an LSN).
func ParsePostgresSequence(seq string) (commitLSN, lsn uint64, hasLSN bool, err error) {
	b := []byte(seq)
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return 0, 0, false, fmt.Errorf("sequence %q: not a JSON array", seq)
	}
	var vals [2]uint64
	var has [2]bool
	n := 0
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] != ']' {
		if n > 0 {
			if b[i] != ',' {
				return 0, 0, false, fmt.Errorf("sequence %q: not a JSON array", seq)
			}
			i = skipSpace(b, i+1)
		}
		end, err := skipValue(b, i)
		if err != nil {
			return 0, 0, false, fmt.Errorf("sequence %q: not a JSON array", seq)
		}
		if n < 2 {
			v, ok, err := rawUint(b[i:end])
			if err != nil {
				return 0, 0, false, fmt.Errorf("sequence %q: element %d: %w", seq, n, err)
			}
			vals[n], has[n] = v, ok
		}
		n++
		i = skipSpace(b, end)
	}
	if i >= len(b) || n != 2 {
		return 0, 0, false, fmt.Errorf("sequence %q: want 2 elements", seq)
	}
	return vals[0], vals[1], has[1], nil
}

func parseTransaction(raw []byte, tx *Transaction) error {
	it := newObjectIter(raw, 0)
	for {
		k, v, ok := it.member()
		if !ok {
			break
		}
		var err error
		switch k {
		case "id":
			tx.ID, err = rawString(v)
		case "total_order":
			tx.TotalOrder, _, err = rawInt(v)
		case "data_collection_order":
			tx.DataCollectionOrder, _, err = rawInt(v)
		case "status":
			tx.Status, err = rawString(v)
		case "event_count":
			tx.EventCount, _, err = rawInt(v)
		}
		if err != nil {
			return fmt.Errorf("field %q: %w", k, err)
		}
	}
	return it.err
}

// Field is one column of a before/after image, in the order the event lists
// them, with its JSON value undecoded.
type Field struct {
	Name string
	Raw  json.RawMessage
}

// Envelope is a decoded Debezium change event value.
type Envelope struct {
	Op Op
	// Before and After are the row images; nil when null or absent.
	Before, After []Field
	// BeforeColumns and AfterColumns are the Connect schemas of before and
	// after when the value carried {"schema":…}; nil otherwise.
	BeforeColumns, AfterColumns []Column
	Source                      Source
	// TsMs is the envelope's ts_ms (connector processing time).
	TsMs int64
	// Transaction is the optional transaction block.
	Transaction *Transaction
	HasSchema   bool
}

// Columns returns the schema of the row images: AfterColumns, or
// BeforeColumns for deletes; nil for schemaless events.
func (e *Envelope) Columns() []Column {
	if e.AfterColumns != nil {
		return e.AfterColumns
	}
	return e.BeforeColumns
}

// DecodeEnvelope decodes a change event value, bare or schema-wrapped. It
// returns ErrTombstone for a nil/empty/null value and an error wrapping
// ErrNotChange for heartbeats and transaction records. Other errors name what
// is wrong ("value is not JSON", "no envelope: missing op", "unknown op \"x\"").
func DecodeEnvelope(value []byte) (*Envelope, error) {
	if len(value) == 0 {
		return nil, ErrTombstone
	}
	h, err := ParseHeader(value)
	if err != nil {
		return nil, err
	}
	switch h.Kind {
	case KindTombstone:
		return nil, ErrTombstone
	case KindHeartbeat:
		return nil, fmt.Errorf("heartbeat record: %w", ErrNotChange)
	case KindTransaction:
		return nil, fmt.Errorf("transaction record %q: %w", h.TransactionID, ErrNotChange)
	}
	e := &Envelope{Op: h.Op, Source: h.Source, TsMs: h.TsMs, HasSchema: h.HasSchema}
	var envRaw, schemaRaw []byte
	if h.HasSchema {
		it := newObjectIter(value, 0)
		for {
			k, vs, ok := it.next()
			if !ok {
				break
			}
			v := it.value(vs)
			switch k {
			case "payload":
				envRaw = v
			case "schema":
				schemaRaw = v
			}
		}
	} else {
		envRaw = trimSpace(value)
	}
	it := newObjectIter(envRaw, 0)
	for {
		k, v, ok := it.member()
		if !ok {
			break
		}
		switch k {
		case "before":
			if e.Before, err = rowFields(v); err != nil {
				return nil, fmt.Errorf("before: %w", err)
			}
		case "after":
			if e.After, err = rowFields(v); err != nil {
				return nil, fmt.Errorf("after: %w", err)
			}
		case "transaction":
			if !isNull(v) {
				e.Transaction = &Transaction{}
				if err := parseTransaction(v, e.Transaction); err != nil {
					return nil, fmt.Errorf("transaction: %w", err)
				}
			}
		}
	}
	if it.err != nil {
		return nil, errSyntax
	}
	if schemaRaw != nil && !isNull(schemaRaw) {
		if err := e.decodeSchema(schemaRaw); err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
	}
	return e, nil
}

// rowFields lists the members of a before/after object; null gives nil.
func rowFields(raw []byte) ([]Field, error) {
	if isNull(raw) {
		return nil, nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("row image is not an object")
	}
	fields := make([]Field, 0, 16)
	it := newObjectIter(raw, 0)
	for {
		k, v, ok := it.member()
		if !ok {
			break
		}
		fields = append(fields, Field{Name: k, Raw: v})
	}
	if it.err != nil {
		return nil, it.err
	}
	return fields, nil
}

// connectSchema is the JSON form of a Kafka Connect schema.
type connectSchema struct {
	Type       string            `json:"type"`
	Optional   bool              `json:"optional"`
	Name       string            `json:"name"`
	Version    *int              `json:"version"`
	Parameters map[string]string `json:"parameters"`
	Field      string            `json:"field"`
	Fields     []connectSchema   `json:"fields"`
	Items      *connectSchema    `json:"items"`
}

func (e *Envelope) decodeSchema(raw []byte) error {
	var s connectSchema
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		switch f.Field {
		case "before":
			e.BeforeColumns = columnsOf(f)
		case "after":
			e.AfterColumns = columnsOf(f)
		}
	}
	return nil
}

func columnsOf(s *connectSchema) []Column {
	cols := make([]Column, 0, len(s.Fields))
	for i := range s.Fields {
		cols = append(cols, columnOf(&s.Fields[i]))
	}
	return cols
}

func columnOf(s *connectSchema) Column {
	c := Column{
		Name:     s.Field,
		Type:     ConnectType(normalizeConnectType(s.Type)),
		Semantic: s.Name,
		Optional: s.Optional,
	}
	if len(s.Parameters) > 0 {
		c.Params = s.Parameters
		c.SourceType = s.Parameters["__debezium.source.column.type"]
	}
	if s.Items != nil {
		el := columnOf(s.Items)
		c.Elem = &el
	}
	return c
}

// normalizeConnectType lower-cases the upper-case spellings some documents
// use ("INT32").
func normalizeConnectType(t string) string {
	for i := 0; i < len(t); i++ {
		if t[i] >= 'A' && t[i] <= 'Z' {
			b := []byte(t)
			for j := range b {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return t
}
