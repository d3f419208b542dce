package schemas

import (
	"errors"
	"fmt"
)

// TableEncoder writes the same bytes as EncodeKey(c, true) and
// EncodeValue(c, true) for the changes of one table, with the Connect
// schemas encoded once: they depend only on the table, its columns, key,
// connector and topic prefix, and are most of each record's bytes, so a
// snapshot that encodes millions of rows of one table would otherwise
// rebuild the identical schema for every row.
//
// A TableEncoder is immutable after NewTableEncoder and safe for concurrent
// use; the Change passed to its methods must describe the same table as the
// one it was made from (checked: a different one is an error, never wrong
// bytes).
type TableEncoder struct {
	table     TableID
	columns   []Column
	key       []string
	connector string
	name      string // Source.Name, the topic prefix

	keyIdx      []int  // c.Key's column indexes in c.Columns
	keyPrefix   []byte // {"schema":<key schema>,"payload":
	valuePrefix []byte // {"schema":<envelope schema>,"payload":
}

// NewTableEncoder encodes c's key and envelope schemas. It returns an error
// (naming the table) for an unknown connector or a key column missing from
// c.Columns.
func NewTableEncoder(c *Change) (*TableEncoder, error) {
	e := &TableEncoder{
		table: c.Table, columns: c.Columns, key: c.Key,
		connector: c.Source.Connector, name: c.Source.Name,
	}
	vp := append(make([]byte, 0, 1024), `{"schema":`...)
	vp, err := appendEnvelopeSchema(vp, c)
	if err != nil {
		return nil, err
	}
	e.valuePrefix = append(vp, `,"payload":`...)
	if len(c.Key) == 0 {
		return e, nil
	}
	e.keyIdx = make([]int, len(c.Key))
	for i, k := range c.Key {
		e.keyIdx[i] = -1
		for j := range c.Columns {
			if c.Columns[j].Name == k {
				e.keyIdx[i] = j
				break
			}
		}
		if e.keyIdx[i] < 0 {
			return nil, fmt.Errorf("encode key %s: key column %q not in row", c.Table, k)
		}
	}
	kp := append(make([]byte, 0, 256), `{"schema":{"type":"struct","fields":[`...)
	for i, j := range e.keyIdx {
		if i > 0 {
			kp = append(kp, ',')
		}
		kp = appendColumnSchema(kp, &c.Columns[j], c.Columns[j].Name)
	}
	kp = append(kp, `],"optional":false,"name":`...)
	kp = appendString(kp, c.Table.Topic(c.Source.Name)+".Key")
	e.keyPrefix = append(kp, `},"payload":`...)
	return e, nil
}

// same reports whether c has the schema e was made for. Columns and Key
// are compared by identity (same backing array and length), which is how
// one table's changes share them; a copy with equal contents is refused,
// which costs a fallback, never wrong bytes.
func (e *TableEncoder) same(c *Change) bool {
	return c.Table == e.table && c.Source.Connector == e.connector && c.Source.Name == e.name &&
		sameSlice(c.Columns, e.columns) && sameSlice(c.Key, e.key)
}

func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

var errOtherTable = errors.New("change is not of the encoder's table")

// AppendKey appends EncodeKey(c, true)'s bytes to dst. A table without key
// columns appends nothing (EncodeKey returns nil: a null key); callers
// tell the cases apart by len(c.Key).
func (e *TableEncoder) AppendKey(dst []byte, c *Change) ([]byte, error) {
	if !e.same(c) {
		return nil, fmt.Errorf("encode key %s: %w", c.Table, errOtherTable)
	}
	if len(e.keyIdx) == 0 {
		return dst, nil
	}
	row := c.After
	if row == nil {
		row = c.Before
	}
	if row == nil {
		return nil, fmt.Errorf("encode key %s: no row image", c.Table)
	}
	b, err := appendKeyObject(append(dst, e.keyPrefix...), c, e.keyIdx, row)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// AppendValue appends EncodeValue(c, true)'s bytes to dst. Errors are
// EncodeValue's.
func (e *TableEncoder) AppendValue(dst []byte, c *Change) ([]byte, error) {
	if !e.same(c) {
		return nil, fmt.Errorf("encode %s: %w", c.Table, errOtherTable)
	}
	if err := checkChangeShape(c); err != nil {
		return nil, err
	}
	b := append(dst, e.valuePrefix...)
	b, err := appendEnvelopePayload(b, c)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}
