package jobs

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/snapshot"
)

// SnapshotConfig is the snapshot: section, the defaults of `sluice snapshot`
// and `sluice backfill` (flags override them per run). Documented in
// docs/snapshot.md.
type SnapshotConfig struct {
	// Parallel is how many chunks are read at once, across all tables
	// (default 2). Each costs one source connection and one core.
	Parallel int `yaml:"parallel"`
	// ChunkRows is the target rows per chunk, the unit of resume
	// (default 100,000).
	ChunkRows int64 `yaml:"chunk_rows"`
	// MaxRowsPerSec throttles all workers together; 0 is unlimited.
	MaxRowsPerSec int64 `yaml:"max_rows_per_sec"`
	// ViewMaxAge is how long one consistent read point serves new chunks
	// (PostgreSQL: an exported snapshot, which holds back vacuum) before
	// a fresh one is taken (default 1m).
	ViewMaxAge time.Duration `yaml:"view_max_age"`
	// TargetFileMB is the size of the raw data files written (default
	// ingest.target_file_mb).
	TargetFileMB int `yaml:"target_file_mb"`
	// PartialImages says which tables are read in one consistent view,
	// all their chunks at one position, because their change events may
	// lack columns: "auto" (default; MySQL/MariaDB tables when the
	// server's global binlog_row_image is not FULL), "always" (every
	// table of every source, e.g. when writers set a minimal row image
	// per session) or "never". See snapshot.PartialImages.
	PartialImages string `yaml:"partial_images"`
}

func (c *SnapshotConfig) applyDefaults(ingestFileMB int) {
	if c.Parallel == 0 {
		c.Parallel = 2
	}
	if c.ChunkRows == 0 {
		c.ChunkRows = 100_000
	}
	if c.ViewMaxAge == 0 {
		c.ViewMaxAge = time.Minute
	}
	if c.TargetFileMB == 0 {
		c.TargetFileMB = ingestFileMB
	}
	if c.PartialImages == "" {
		c.PartialImages = string(snapshot.PartialImagesAuto)
	}
}

func (c *SnapshotConfig) validate() error {
	if c.Parallel < 1 || c.Parallel > 256 {
		return &FieldError{"snapshot.parallel", fmt.Sprintf("must be between 1 and 256, got %d", c.Parallel)}
	}
	if c.ChunkRows < 1 {
		return &FieldError{"snapshot.chunk_rows", fmt.Sprintf("must be positive, got %d", c.ChunkRows)}
	}
	if c.MaxRowsPerSec < 0 {
		return &FieldError{"snapshot.max_rows_per_sec", fmt.Sprintf("must be 0 (unlimited) or positive, got %d", c.MaxRowsPerSec)}
	}
	if c.ViewMaxAge < 0 {
		return &FieldError{"snapshot.view_max_age", fmt.Sprintf("must be positive, got %s", c.ViewMaxAge)}
	}
	if c.TargetFileMB < 0 {
		return &FieldError{"snapshot.target_file_mb", "must be positive"}
	}
	switch snapshot.PartialImages(c.PartialImages) {
	case snapshot.PartialImagesAuto, snapshot.PartialImagesAlways, snapshot.PartialImagesNever:
	default:
		return &FieldError{"snapshot.partial_images", fmt.Sprintf("must be auto, always or never, got %q", c.PartialImages)}
	}
	return nil
}
