package dv

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
)

// Magic is the little-endian uint32 that starts a serialized DV in the
// portable RoaringBitmapArray format.
const Magic = 1681511377

// fileVersion is the first byte of a DV file.
const fileVersion = 1

// Decode decodes a serialized DV (magic + portable bitmap) holding at most
// limit positions.
func Decode(data []byte, limit uint64) ([]uint64, error) {
	if len(data) < 4 {
		return nil, corrupt("%d bytes, want at least 4", len(data))
	}
	if m := binary.LittleEndian.Uint32(data); m != Magic {
		return nil, corrupt("magic %d, want %d (portable RoaringBitmapArray)", m, uint32(Magic))
	}
	return DecodeBitmap(data[4:], limit)
}

// Encode serializes sorted, distinct positions as a DV (magic + bitmap).
func Encode(pos []uint64) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, Magic), EncodeBitmap(pos)...)
}

// Inline returns an inline ("i") descriptor holding pos: for small DVs,
// which then need no file.
func Inline(pos []uint64) *lakelog.DeletionVector {
	data := Encode(pos)
	return &lakelog.DeletionVector{
		StorageType:    lakelog.DVStorageInline,
		PathOrInlineDv: lakelog.Z85Encode(data),
		SizeInBytes:    int32(len(data)),
		Cardinality:    int64(len(pos)),
	}
}

// Reader reads the DVs of a table's files. It keeps the DV files it has
// read (a file usually holds the DVs of many data files), so use one
// Reader per table scan. Safe for concurrent use.
type Reader struct {
	store blob.Store
	mu    sync.Mutex
	files map[string][]byte
}

// NewReader reads DVs relative to store, the table root.
func NewReader(store blob.Store) *Reader {
	return &Reader{store: store, files: map[string][]byte{}}
}

// Read returns the sorted positions d deletes (nil for a nil d). Errors
// name the DV; a DV whose size, checksum or cardinality does not match
// its descriptor is an error wrapping ErrCorrupt.
func (r *Reader) Read(ctx context.Context, d *lakelog.DeletionVector) ([]uint64, error) {
	if d == nil {
		return nil, nil
	}
	if d.Cardinality < 0 || d.SizeInBytes < 4 {
		return nil, fmt.Errorf("deletion vector %s: cardinality %d, size %d: %w", d.UniqueID(), d.Cardinality, d.SizeInBytes, ErrCorrupt)
	}
	var data []byte
	switch d.StorageType {
	case lakelog.DVStorageInline:
		raw, err := lakelog.Z85Decode(d.PathOrInlineDv)
		if err != nil {
			return nil, fmt.Errorf("deletion vector %s: %w: %w", d.UniqueID(), ErrCorrupt, err)
		}
		if int(d.SizeInBytes) > len(raw) {
			return nil, fmt.Errorf("deletion vector %s: size %d exceeds the %d inline bytes: %w", d.UniqueID(), d.SizeInBytes, len(raw), ErrCorrupt)
		}
		data = raw[:d.SizeInBytes]
	default:
		key, err := d.StoreKey()
		if err != nil {
			return nil, err
		}
		file, err := r.file(ctx, key)
		if err != nil {
			return nil, err
		}
		if data, err = slice(file, d); err != nil {
			return nil, fmt.Errorf("deletion vector %s in %s: %w", d.UniqueID(), key, err)
		}
	}
	pos, err := Decode(data, uint64(d.Cardinality))
	if err != nil {
		return nil, fmt.Errorf("deletion vector %s: %w", d.UniqueID(), err)
	}
	if int64(len(pos)) != d.Cardinality {
		return nil, fmt.Errorf("deletion vector %s: %d positions, descriptor says %d: %w", d.UniqueID(), len(pos), d.Cardinality, ErrCorrupt)
	}
	return pos, nil
}

func (r *Reader) file(ctx context.Context, key string) ([]byte, error) {
	r.mu.Lock()
	data, ok := r.files[key]
	r.mu.Unlock()
	if ok {
		return data, nil
	}
	rc, err := r.store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read deletion vector file %s: %w", key, err)
	}
	data, err = io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("read deletion vector file %s: %w", key, err)
	}
	if len(data) < 1 || data[0] != fileVersion {
		return nil, fmt.Errorf("deletion vector file %s: not version %d: %w", key, fileVersion, ErrCorrupt)
	}
	r.mu.Lock()
	r.files[key] = data
	r.mu.Unlock()
	return data, nil
}

// slice returns the serialized DV at d's offset in file, checking its size
// prefix and checksum.
func slice(file []byte, d *lakelog.DeletionVector) ([]byte, error) {
	off := 1 // a descriptor without offset means the first DV
	if d.Offset != nil {
		off = int(*d.Offset)
	}
	size := int(d.SizeInBytes)
	if off < 1 || off > len(file) || len(file)-off < 8+size {
		return nil, corrupt("offset %d, size %d beyond the file's %d bytes", off, size, len(file))
	}
	if got := int(binary.BigEndian.Uint32(file[off:])); got != size {
		return nil, corrupt("size prefix %d, descriptor says %d", got, size)
	}
	data := file[off+4 : off+4+size]
	if want, got := binary.BigEndian.Uint32(file[off+4+size:]), crc32.ChecksumIEEE(data); got != want {
		return nil, corrupt("checksum %08x, want %08x", got, want)
	}
	return data, nil
}

// FileWriter collects the DVs of one commit into one DV file, the way
// Spark writes them. Not safe for concurrent use.
type FileWriter struct {
	pathOrInline string
	key          string
	data         []byte
	n            int
}

// NewFileWriter starts a DV file under prefix ("" for the table root)
// with a fresh random UUID.
func NewFileWriter(prefix string) *FileWriter {
	id := uuid.New()
	p, key := lakelog.RelativeDV(prefix, id)
	return &FileWriter{pathOrInline: p, key: key, data: []byte{fileVersion}}
}

// Add appends the DV of pos (sorted, distinct) and returns its descriptor.
func (w *FileWriter) Add(pos []uint64) *lakelog.DeletionVector {
	ser := Encode(pos)
	off := int32(len(w.data))
	w.data = binary.BigEndian.AppendUint32(w.data, uint32(len(ser)))
	w.data = append(w.data, ser...)
	w.data = binary.BigEndian.AppendUint32(w.data, crc32.ChecksumIEEE(ser))
	w.n++
	return &lakelog.DeletionVector{
		StorageType:    lakelog.DVStorageRelative,
		PathOrInlineDv: w.pathOrInline,
		Offset:         &off,
		SizeInBytes:    int32(len(ser)),
		Cardinality:    int64(len(pos)),
	}
}

// Len returns the number of DVs added.
func (w *FileWriter) Len() int { return w.n }

// Key returns the file's store key relative to the table root.
func (w *FileWriter) Key() string { return w.key }

// Finish uploads the file (PutIfAbsent) if it holds any DV. It must
// complete before the commit that references the descriptors.
func (w *FileWriter) Finish(ctx context.Context, store blob.Store) error {
	if w.n == 0 {
		return nil
	}
	if len(w.data) > 1<<31-1 {
		return fmt.Errorf("deletion vector file %s: %d bytes exceed the 2 GiB offset range", w.key, len(w.data))
	}
	if err := store.PutIfAbsent(ctx, w.key, w.data); err != nil {
		return fmt.Errorf("write deletion vector file %s: %w", w.key, err)
	}
	return nil
}
