package datafile

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"strings"
	"time"
	"unsafe"

	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
)

// Options configure a Writer. The zero value is usable.
type Options struct {
	// Compression is "zstd" (default), "snappy" or "none".
	Compression string
	// ZstdLevel is 1 (fastest, default) to 4 (best).
	ZstdLevel int
	// RowGroupRows caps the rows of a row group (default 131072).
	RowGroupRows int
	// RowGroupBytes caps a row group's buffered size (default 128 MiB), so
	// wide rows (1 KB payloads) make smaller groups.
	RowGroupBytes int64
	// NumIndexedCols is how many leaf columns get stats (default 32, as
	// delta.dataSkippingNumIndexedCols; negative means all).
	NumIndexedCols int
	// DictionaryMaxBytes bounds each string column's dictionary per row
	// group (default 1 MiB); past it the column falls back to PLAIN.
	DictionaryMaxBytes int64
	// Now stamps Add.ModificationTime (default time.Now).
	Now func() time.Time
	// TempDir, when set, builds the file in an unlinked temporary file in
	// that directory instead of in memory: an open Writer then holds only
	// its current row group (see FlushRowGroup). FinishBytes reads the file
	// back once, at its exact size; Finish maps it for the upload. Empty
	// builds the file in memory.
	TempDir string
}

const (
	defaultRowGroupRows   = 128 << 10
	defaultRowGroupBytes  = 128 << 20
	defaultNumIndexedCols = 32
	defaultDictionaryMax  = 1 << 20
)

// Writer encodes rows of one table schema into a single Parquet data file.
// Not safe for concurrent use. After an error from Write the row is not
// written and the Writer stays usable; after Finish it is done.
type Writer struct {
	plan   *plan
	opts   Options
	suffix string // file name suffix, by compression

	out       output
	pw        *parquet.Writer
	vals      [][]parquet.Value // per leaf column: the batched rows' values
	starts    []int             // per leaf column: where the current row's values start
	arena     []byte            // copies of the batched rows' binary values
	batched   int               // rows in vals
	rows      int64
	groupRows int
	finished  bool
}

// NewWriter returns a Writer for rows of schema. It fails for types it
// cannot write (map, variant, void) and invalid decimals.
func NewWriter(schema *lakelog.StructType, opts Options) (*Writer, error) {
	if opts.RowGroupRows <= 0 {
		opts.RowGroupRows = defaultRowGroupRows
	}
	if opts.RowGroupBytes <= 0 {
		opts.RowGroupBytes = defaultRowGroupBytes
	}
	if opts.NumIndexedCols == 0 {
		opts.NumIndexedCols = defaultNumIndexedCols
	} else if opts.NumIndexedCols < 0 {
		opts.NumIndexedCols = math.MaxInt
	}
	if opts.DictionaryMaxBytes <= 0 {
		opts.DictionaryMaxBytes = defaultDictionaryMax
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var codec compress.Codec
	var suffix string
	switch opts.Compression {
	case "", "zstd":
		level := opts.ZstdLevel
		if level < 1 {
			level = 1
		} else if level > 4 {
			level = 4
		}
		codec, suffix = sharedZstd(level), ".zstd.parquet"
	case "snappy":
		codec, suffix = &snappy.Codec{}, ".snappy.parquet"
	case "none":
		codec, suffix = &uncompressed.Codec{}, ".parquet"
	default:
		return nil, fmt.Errorf("unknown compression %q", opts.Compression)
	}
	p, err := compile(schema, opts.NumIndexedCols)
	if err != nil {
		return nil, err
	}
	w := &Writer{plan: p, opts: opts, suffix: suffix, vals: make([][]parquet.Value, p.numLeaf), starts: make([]int, p.numLeaf)}
	if opts.TempDir != "" {
		if err := w.out.spillTo(opts.TempDir); err != nil {
			return nil, err
		}
	}
	wopts := []parquet.WriterOption{
		p.schema,
		parquet.Compression(codec),
		parquet.DictionaryMaxBytes(opts.DictionaryMaxBytes),
		parquet.MaxRowsPerRowGroup(math.MaxInt64),
		parquet.CreatedBy("sluice", "", ""),
	}
	for _, path := range p.binaryPaths {
		// Min/max of 1 KB payloads cost a full compare per value and help no
		// reader (Delta keeps no binary stats either).
		wopts = append(wopts, parquet.SkipPageBounds(path...))
	}
	w.pw = parquet.NewWriter(&w.out, wopts...)
	return w, nil
}

// Write appends one row: one value per top-level field, in schema order.
// Go types per Delta type: string→string; long→int64; integer→int32;
// short→int16; byte→int8 (int is accepted for all four, range-checked);
// float→float32; double→float64; boolean→bool; binary→[]byte;
// date→time.Time (its calendar date); timestamp→time.Time (µs);
// timestamp_ntz→time.Time (its wall clock read as UTC); decimal(p,s)→*big.Int
// holding the unscaled value; array→[]any; struct→[]any in field order or
// map[string]any; nil→null. A type mismatch or a nil in a non-nullable
// column returns an error naming the column, and the row is dropped.
// Write does not retain row, its []byte values or its containers after it
// returns (strings are immutable and may be referenced until the batch of
// 64 rows is encoded).
func (w *Writer) Write(row []any) error {
	if w.finished {
		return errors.New("write after finish")
	}
	if len(row) != len(w.plan.fields) {
		return fmt.Errorf("row has %d values, schema has %d fields", len(row), len(w.plan.fields))
	}
	for i := range w.vals {
		w.starts[i] = len(w.vals[i])
	}
	arenaStart := len(w.arena)
	for i, f := range w.plan.fields {
		if err := w.shred(f, row[i], 0); err != nil {
			for c := range w.vals {
				clear(w.vals[c][w.starts[c]:])
				w.vals[c] = w.vals[c][:w.starts[c]]
			}
			w.arena = w.arena[:arenaStart]
			return err
		}
	}
	w.collectStats()
	w.rows++
	w.groupRows++
	w.batched++
	if w.batched < batchRows && w.groupRows < w.opts.RowGroupRows {
		return nil
	}
	if err := w.flushBatch(); err != nil {
		return err
	}
	// Size walks every column buffer, so it is checked per batch only.
	if w.groupRows >= w.opts.RowGroupRows || w.BufferedBytes() >= w.opts.RowGroupBytes {
		return w.flushRowGroup()
	}
	return nil
}

// FlushRowGroup ends the current row group early: its rows are encoded into
// the file and its column buffers released. With Options.TempDir this moves
// them out of memory; the file gets one more (smaller) row group. It does
// nothing when the row group is empty.
func (w *Writer) FlushRowGroup() error {
	if w.finished {
		return errors.New("flush after finish")
	}
	if err := w.flushBatch(); err != nil {
		return err
	}
	if w.groupRows == 0 {
		return nil
	}
	return w.flushRowGroup()
}

func (w *Writer) flushRowGroup() error {
	if err := w.pw.Flush(); err != nil {
		w.abort()
		return fmt.Errorf("flush row group: %w", err)
	}
	w.groupRows = 0
	return nil
}

// batchRows is how many rows are shredded before their values go to the
// column writers in one call per column (per-row calls cost ~2x).
const batchRows = 64

// flushBatch hands the batched rows' values to the column writers, which
// copy them; the arena is reusable afterwards.
func (w *Writer) flushBatch() error {
	if w.batched == 0 {
		return nil
	}
	cols := w.pw.ColumnWriters()
	for i, vs := range w.vals {
		if _, err := cols[i].WriteRowValues(vs); err != nil {
			// Rows may be half in the buffers: the file is unusable.
			w.abort()
			return fmt.Errorf("write column %d: %w", i, err)
		}
		clear(vs) // drop references to the caller's strings
		w.vals[i] = vs[:0]
	}
	w.arena = w.arena[:0]
	w.batched = 0
	return nil
}

// shred appends n's values for v at repetition level rep.
func (w *Writer) shred(n *node, v any, rep int) error {
	if v == nil {
		if !n.nullable {
			return fmt.Errorf("column %s: null in a non-nullable column", n.name)
		}
		for _, c := range n.leaves {
			w.vals[c] = append(w.vals[c], parquet.Value{}.Level(rep, n.def-1, c))
		}
		return nil
	}
	switch {
	case n.leaf != nil:
		pv, err := toValue(n.leaf, v)
		if err != nil {
			return fmt.Errorf("column %s: %w", n.name, err)
		}
		if n.leaf.kind == kindBinary {
			// The caller may reuse the slice once Write returns; the row
			// waits in the batch, so it is copied.
			b := v.([]byte)
			start := len(w.arena)
			w.arena = append(w.arena, b...)
			pv = parquet.ByteArrayValue(w.arena[start:len(w.arena):len(w.arena)])
		}
		i := n.leaf.index
		w.vals[i] = append(w.vals[i], pv.Level(rep, n.def, i))
	case n.children != nil:
		switch v := v.(type) {
		case []any:
			if len(v) != len(n.children) {
				return fmt.Errorf("column %s: struct has %d values, type has %d fields", n.name, len(v), len(n.children))
			}
			for i, c := range n.children {
				if err := w.shred(c, v[i], rep); err != nil {
					return err
				}
			}
		case map[string]any:
			for _, c := range n.children {
				if err := w.shred(c, v[c.field], rep); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("column %s: struct value is %T, want []any or map[string]any", n.name, v)
		}
	case n.elem != nil:
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("column %s: array value is %T, want []any", n.name, v)
		}
		if len(list) == 0 {
			for _, c := range n.leaves {
				w.vals[c] = append(w.vals[c], parquet.Value{}.Level(rep, n.def, c))
			}
		}
		for i, e := range list {
			r := rep
			if i > 0 {
				r = n.repLevel
			}
			if err := w.shred(n.elem, e, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// collectStats folds the current row into the stats columns. It runs after
// the whole row converted, so a rejected row leaves no trace.
func (w *Writer) collectStats() {
	for _, n := range w.plan.statCols {
		s := n.stats
		if n.leaf == nil { // array: only whether it is null
			if w.vals[n.leaves[0]][w.starts[n.leaves[0]]].DefinitionLevel() < n.def {
				s.nulls++
			}
			continue
		}
		v := w.vals[n.leaf.index][w.starts[n.leaf.index]]
		if v.IsNull() {
			s.nulls++
			continue
		}
		switch s.kind {
		case kindLong, kindTimestamp, kindTimestampNTZ, kindDecimal64:
			s.addInt(v.Int64())
		case kindInteger, kindShort, kindByte, kindDate, kindDecimal32:
			s.addInt(int64(v.Int32()))
		case kindFloat:
			s.addFloat(float64(v.Float()))
		case kindDouble:
			s.addFloat(v.Double())
		case kindString:
			b := v.ByteArray()
			// string(b) in a comparison does not allocate; only a new bound does.
			if !s.has || string(b) < s.minS {
				s.minS = string(b)
			}
			if !s.has || string(b) > s.maxS {
				s.maxS = string(b)
			}
			s.has = true
		case kindDecimalBig:
			s.addBig(fromTwosComplement(v.ByteArray()))
		default:
			s.has = true // boolean, binary: nullCount only
		}
	}
}

// toValue converts a Go value to the leaf's physical Parquet value.
func toValue(l *leaf, v any) (parquet.Value, error) {
	switch l.kind {
	case kindString:
		if s, ok := v.(string); ok {
			// The column buffer copies the bytes before Write returns.
			return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s))), nil
		}
	case kindBinary:
		if b, ok := v.([]byte); ok {
			return parquet.ByteArrayValue(b), nil
		}
	case kindLong:
		switch x := v.(type) {
		case int64:
			return parquet.Int64Value(x), nil
		case int:
			return parquet.Int64Value(int64(x)), nil
		case int32:
			return parquet.Int64Value(int64(x)), nil
		case int16:
			return parquet.Int64Value(int64(x)), nil
		case int8:
			return parquet.Int64Value(int64(x)), nil
		}
	case kindInteger, kindShort, kindByte:
		lo, hi := int64(math.MinInt32), int64(math.MaxInt32)
		if l.kind == kindShort {
			lo, hi = math.MinInt16, math.MaxInt16
		} else if l.kind == kindByte {
			lo, hi = math.MinInt8, math.MaxInt8
		}
		var x int64
		switch y := v.(type) {
		case int:
			x = int64(y)
		case int32:
			if l.kind != kindInteger {
				return parquet.Value{}, typeError(l, v)
			}
			x = int64(y)
		case int16:
			if l.kind == kindByte {
				return parquet.Value{}, typeError(l, v)
			}
			x = int64(y)
		case int8:
			x = int64(y)
		default:
			return parquet.Value{}, typeError(l, v)
		}
		if x < lo || x > hi {
			return parquet.Value{}, fmt.Errorf("value %d out of range for %s", x, l.typ.TypeName())
		}
		return parquet.Int32Value(int32(x)), nil
	case kindFloat:
		if f, ok := v.(float32); ok {
			return parquet.FloatValue(f), nil
		}
	case kindDouble:
		switch f := v.(type) {
		case float64:
			return parquet.DoubleValue(f), nil
		case float32:
			return parquet.DoubleValue(float64(f)), nil
		}
	case kindBoolean:
		if b, ok := v.(bool); ok {
			return parquet.BooleanValue(b), nil
		}
	case kindDate:
		if t, ok := v.(time.Time); ok {
			y, m, d := t.Date()
			days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
			if days < math.MinInt32 || days > math.MaxInt32 {
				return parquet.Value{}, fmt.Errorf("date %v out of range", t)
			}
			return parquet.Int32Value(int32(days)), nil
		}
	case kindTimestamp:
		if t, ok := v.(time.Time); ok {
			return parquet.Int64Value(t.UnixMicro()), nil
		}
	case kindTimestampNTZ:
		if t, ok := v.(time.Time); ok {
			y, mo, d := t.Date()
			h, mi, s := t.Clock()
			wall := time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
			return parquet.Int64Value(wall.UnixMicro()), nil
		}
	case kindDecimal32, kindDecimal64, kindDecimalBig:
		var x *big.Int
		switch y := v.(type) {
		case *big.Int:
			x = y
		case big.Int:
			x = &y
		default:
			return parquet.Value{}, typeError(l, v)
		}
		if x == nil {
			return parquet.Value{}, typeError(l, v)
		}
		if !fitsPrecision(x, l.typ.Precision) {
			return parquet.Value{}, fmt.Errorf("unscaled value %s has more than %d digits", x, l.typ.Precision)
		}
		switch l.kind {
		case kindDecimal32:
			return parquet.Int32Value(int32(x.Int64())), nil
		case kindDecimal64:
			return parquet.Int64Value(x.Int64()), nil
		}
		return parquet.FixedLenByteArrayValue(toTwosComplement(x, l.flbaLen)), nil
	}
	return parquet.Value{}, typeError(l, v)
}

func typeError(l *leaf, v any) error {
	return fmt.Errorf("value of Go type %T does not fit %s", v, l.typ.TypeName())
}

var powersOfTen = func() []*big.Int {
	p := make([]*big.Int, 40)
	p[0] = big.NewInt(1)
	for i := 1; i < len(p); i++ {
		p[i] = new(big.Int).Mul(p[i-1], big.NewInt(10))
	}
	return p
}()

func fitsPrecision(x *big.Int, precision int) bool {
	if x.IsInt64() {
		v := x.Int64()
		if v < 0 {
			if v == math.MinInt64 {
				return precision > 18
			}
			v = -v
		}
		return precision > 18 || v < powersOfTen[precision].Int64()
	}
	return new(big.Int).Abs(x).Cmp(powersOfTen[precision]) < 0
}

// toTwosComplement renders x big-endian in n bytes of two's complement.
func toTwosComplement(x *big.Int, n int) []byte {
	b := make([]byte, n)
	if x.Sign() >= 0 {
		x.FillBytes(b)
		return b
	}
	// -x-1 has the complemented bits of x.
	t := new(big.Int).Neg(x)
	t.Sub(t, big.NewInt(1))
	t.FillBytes(b)
	for i := range b {
		b[i] = ^b[i]
	}
	return b
}

// fromTwosComplement parses big-endian two's complement bytes.
func fromTwosComplement(b []byte) *big.Int {
	x := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return x
}

// Rows returns the number of rows written so far.
func (w *Writer) Rows() int64 { return w.rows }

// EstimatedSize returns the bytes encoded so far plus the current row
// group's buffered (uncompressed) size, for size-based file rolling.
func (w *Writer) EstimatedSize() int64 { return w.pw.Size() }

// BufferedBytes is the current row group's buffered size: what is not in
// the file yet.
func (w *Writer) BufferedBytes() int64 { return max(w.pw.Size()-w.out.n, 0) }

// HeldBytes estimates the memory the Writer holds: its current row group
// (twice the buffered size: column buffers grow by doubling, and pages wait
// both encoded and compressed), the rows batched for the column writers,
// and, when the file is built in memory, the encoded bytes with their
// buffer's spare capacity.
func (w *Writer) HeldBytes() int64 {
	n := 2*w.BufferedBytes() + int64(cap(w.arena)) + writerOverhead
	if !w.finished && w.out.file == nil {
		n += int64(w.out.mem.Cap())
	}
	return n
}

// writerOverhead is what a Writer holds whatever its rows: parquet-go's
// write buffer and page buffers, the batched values.
const writerOverhead = 1 << 20

// Discard abandons the file: a file being built in Options.TempDir is
// closed and removed. It is safe to call at any time, more than once, and
// after Finish; the Writer is done afterwards.
func (w *Writer) Discard() {
	w.abort()
}

// abort ends the Writer after an error or Discard.
func (w *Writer) abort() {
	w.finished = true
	w.out.close()
}

// FinishBytes closes the file and returns its bytes and Delta stats JSON,
// for callers that upload the file themselves. The Writer is done after it.
func (w *Writer) FinishBytes() (data []byte, stats string, err error) {
	defer w.out.close()
	if stats, err = w.close(); err != nil {
		return nil, "", err
	}
	if data, err = w.out.bytes(); err != nil {
		return nil, "", err
	}
	return data, stats, nil
}

// close ends the Parquet file and returns its stats JSON.
func (w *Writer) close() (string, error) {
	if w.finished {
		return "", errors.New("writer already finished")
	}
	if err := w.flushBatch(); err != nil {
		return "", err
	}
	w.finished = true
	if err := w.pw.Close(); err != nil {
		return "", fmt.Errorf("close parquet: %w", err)
	}
	return statsJSON(w.plan.fields, w.rows), nil
}

// Finish closes the file and uploads it with PutIfAbsent as
// <dir>/part-00000-<uuid>-c000.<codec>.parquet (dir "" is the table root),
// returning the add action to commit. The path in the Add is relative to the
// table root and URI-encoded. A failed upload leaves nothing to clean up
// (PutIfAbsent is atomic); the Writer is done either way.
//
// A file built in Options.TempDir is handed to PutIfAbsent as a read-only
// memory mapping of the temporary file (on Unix), valid only during the
// call: it is read from the page cache rather than copied onto the heap,
// where a file of the target size would double the collector's goal.
// Stores copy or send the data before PutIfAbsent returns.
func (w *Writer) Finish(ctx context.Context, store blob.Store, dir string) (*lakelog.Add, error) {
	defer w.out.close()
	stats, err := w.close()
	if err != nil {
		return nil, err
	}
	data, release, err := w.out.view()
	if err != nil {
		return nil, err
	}
	defer release()
	name := "part-00000-" + uuid.NewString() + "-c000" + w.suffix
	key := name
	if dir = strings.Trim(dir, "/"); dir != "" {
		key = dir + "/" + name
	}
	if err := store.PutIfAbsent(ctx, key, data); err != nil {
		return nil, fmt.Errorf("upload %s: %w", key, err)
	}
	return &lakelog.Add{
		Path:             escapePath(key),
		PartitionValues:  map[string]*string{},
		Size:             int64(len(data)),
		ModificationTime: w.opts.Now().UnixMilli(),
		DataChange:       true,
		Stats:            stats,
	}, nil
}

// escapePath URI-encodes each segment of a relative path (identity for
// names made of [A-Za-z0-9._-], which is all this package generates).
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
