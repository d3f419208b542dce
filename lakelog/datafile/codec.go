package datafile

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/compress"
	pqzstd "github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdCodec is the zstd codec every Writer of one level shares, so that the
// number of zstd encoders (each holding its match history) is bounded by how
// many pages are compressed at once, not by how many Writers are open:
// parquet-go's zstd.Codec pools encoders per codec value, and one codec per
// Writer meant one ~8 MiB encoder per open file.
//
// Safe for concurrent use. At most max encoders exist per level; a caller
// that finds them all busy waits for one.
type zstdCodec struct {
	level zstd.EncoderLevel
	max   int

	mu   sync.Mutex
	cond sync.Cond
	idle []*zstd.Encoder
	live int // encoders created (idle or in use)
}

// zstdWindow bounds an encoder's history. Parquet compresses each page on
// its own (pages are ~256 KiB before compression), so a longer window finds
// nothing more and only costs memory: 1 MiB makes an encoder ~2.5 MiB
// instead of ~8.5 MiB, and the frames of pages up to 1 MiB are unchanged
// (single-segment frames do not record the window).
const zstdWindow = 1 << 20

// maxZstdEncoders is the bound per level: more encoders than cores
// compressing at once gain nothing.
func maxZstdEncoders() int { return max(1, min(runtime.GOMAXPROCS(0), 8)) }

var (
	zstdCodecsOnce sync.Once
	zstdCodecs     [4]*zstdCodec // by Options.ZstdLevel-1
	zstdDecoder    = &pqzstd.Codec{}
)

// sharedZstd returns the shared codec of level 1..4.
func sharedZstd(level int) *zstdCodec {
	zstdCodecsOnce.Do(func() {
		levels := [4]zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression}
		for i, l := range levels {
			c := &zstdCodec{level: l, max: maxZstdEncoders()}
			c.cond.L = &c.mu
			zstdCodecs[i] = c
		}
	})
	return zstdCodecs[level-1]
}

var _ compress.Codec = (*zstdCodec)(nil)

func (c *zstdCodec) String() string { return "ZSTD" }

func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

// Encode compresses src into dst's storage as one zstd frame.
func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	e, err := c.get()
	if err != nil {
		return nil, err
	}
	defer c.put(e)
	return e.EncodeAll(src, dst[:0]), nil
}

// Decode is parquet-go's (Writers never decode; the interface asks for it).
func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) {
	return zstdDecoder.Decode(dst, src)
}

func (c *zstdCodec) get() (*zstd.Encoder, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if n := len(c.idle); n > 0 {
			e := c.idle[n-1]
			c.idle = c.idle[:n-1]
			return e, nil
		}
		if c.live < c.max {
			// The same options as parquet-go's codec, so pages compress
			// to the same bytes, plus the smaller window.
			e, err := zstd.NewWriter(nil,
				zstd.WithEncoderConcurrency(1),
				zstd.WithEncoderLevel(c.level),
				zstd.WithZeroFrames(true),
				zstd.WithEncoderCRC(false),
				zstd.WithWindowSize(zstdWindow),
				zstd.WithLowerEncoderMem(true),
			)
			if err != nil {
				return nil, fmt.Errorf("zstd encoder: %w", err)
			}
			c.live++
			return e, nil
		}
		c.cond.Wait()
	}
}

func (c *zstdCodec) put(e *zstd.Encoder) {
	c.mu.Lock()
	c.idle = append(c.idle, e)
	c.mu.Unlock()
	c.cond.Signal()
}

// liveEncoders is how many encoders the codec has created.
func (c *zstdCodec) liveEncoders() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}
