package lakelog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/sluicehq/sluice/lakelog/blob"
)

// lastCheckpointKey is the _last_checkpoint hint file (§Last Checkpoint
// File). It is only a hint: a reader that finds it missing, unparsable or
// pointing at a checkpoint that does not exist lists the log instead.
const lastCheckpointKey = logDir + "_last_checkpoint"

// LastCheckpoint is the content of _delta_log/_last_checkpoint.
type LastCheckpoint struct {
	Version          int64            `json:"version"`
	Size             int64            `json:"size"`
	Parts            *int             `json:"parts,omitempty"`
	SizeInBytes      *int64           `json:"sizeInBytes,omitempty"`
	NumOfAddFiles    *int64           `json:"numOfAddFiles,omitempty"`
	CheckpointSchema json.RawMessage  `json:"checkpointSchema,omitempty"`
	Checksum         string           `json:"checksum,omitempty"`
	V2Checkpoint     *json.RawMessage `json:"v2Checkpoint,omitempty"`
}

// readLastCheckpoint returns the _last_checkpoint hint, or nil when it is
// missing or unusable (corrupt hints are logged and ignored: listing the
// log is always correct, only slower). Other store errors are returned.
func (t *Table) readLastCheckpoint(ctx context.Context) (*LastCheckpoint, error) {
	data, err := readAll(ctx, t.store, lastCheckpointKey)
	if errors.Is(err, blob.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read _last_checkpoint: %w", err)
	}
	var lc LastCheckpoint
	if err := json.Unmarshal(data, &lc); err != nil || lc.Version < 0 {
		t.opts.Logger.Warn("ignoring unreadable _last_checkpoint", "err", err)
		return nil, nil
	}
	return &lc, nil
}

// readAll reads the whole object at key.
func readAll(ctx context.Context, store blob.Store, key string) ([]byte, error) {
	rc, err := store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return data, nil
}
