package jobs

import "time"

// Capture heartbeats keep a source's stored position (and the capture
// metrics) moving while the captured tables are idle, so that a restart
// resumes near the server's current position instead of re-reading, and
// a PostgreSQL slot or the binlog behind the position is not held back.
//
//   - MySQL/MariaDB (default 10s): the binlog position moves whenever any
//     database of the server commits, captured or not. capture/mysql then
//     stores the position it reached, as an empty batch (one small Kafka
//     transaction on the positions topic), once no batch was sent for the
//     interval; the interval is also the server's replication heartbeat
//     period (go-mysql's HeartbeatPeriod, MASTER_HEARTBEAT_PERIOD), so an
//     idle connection still delivers an event to act on and a dead one is
//     noticed. Nothing is written to the source.
//   - PostgreSQL (default off): the slot already advances on an idle
//     database through the walsender's keepalives (capture/postgres). A
//     positive interval also writes a tiny non-transactional logical
//     message (pg_logical_emit_message) that often, for clusters where
//     nothing else writes WAL at all.

// defaultBinlogHeartbeat is the heartbeat of MySQL/MariaDB sources when
// sources[].heartbeat_interval is not set.
const defaultBinlogHeartbeat = 10 * time.Second

// applyHeartbeatDefault sets the type's default heartbeat when none is
// configured.
func (s *SourceConfig) applyHeartbeatDefault() {
	if s.HeartbeatInterval != nil {
		return
	}
	d := time.Duration(0)
	if s.Type == "mysql" || s.Type == "mariadb" {
		d = defaultBinlogHeartbeat
	}
	s.HeartbeatInterval = &d
}

// heartbeat returns the source's heartbeat interval, 0 for none.
func (s *SourceConfig) heartbeat() time.Duration {
	if s.HeartbeatInterval == nil {
		return 0
	}
	return *s.HeartbeatInterval
}
