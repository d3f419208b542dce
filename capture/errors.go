package capture

import "errors"

// ErrPositionLost means the stored source position no longer exists on the
// server (binlog purged, replication slot dropped or invalidated). Changes
// may have been missed: the recovery is a backfill of the affected tables.
var ErrPositionLost = errors.New("source position lost: changes since it may be missing; run `sluice backfill` for the affected tables")
