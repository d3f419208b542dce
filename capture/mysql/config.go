package mysql

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/capture"
)

// Flavors of server, as Config.Flavor spells them.
const (
	FlavorMySQL   = "mysql"
	FlavorMariaDB = "mariadb"
)

// Config configures a MySQL/MariaDB binlog source.
type Config struct {
	// Addr is host:port of the server.
	Addr string
	User string
	// Password is never logged nor put in errors.
	Password string
	// ServerID is the replica server id this capture registers with; it
	// must be unique among the server's replicas. Default 5701.
	ServerID uint32
	// Flavor is FlavorMySQL or FlavorMariaDB. Default FlavorMySQL.
	Flavor string
	// Include and Exclude are regular expressions matched against the whole
	// "db.table" name; changes of tables they reject are dropped. Empty
	// Include matches every table.
	Include []string
	Exclude []string
	// TopicPrefix becomes Source.Name (Debezium's topic.prefix).
	TopicPrefix string
	// HeartbeatInterval, when positive, makes Stream send an empty Batch
	// carrying the current position when transactions of excluded tables
	// (or DDL) moved it and no batch was sent for that long, so that the
	// stored position keeps up on a source whose captured tables are idle.
	// It also sets the server's replication heartbeat period, so that a dead
	// connection is noticed. 0 disables both.
	HeartbeatInterval time.Duration
	// MaxTxnChanges bounds how many changes of one transaction are held in
	// memory: a larger transaction goes to capture.Run in Partial batches
	// of this size, written into one Kafka transaction that commits with
	// the last part. Default 10,000.
	MaxTxnChanges int
}

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.Addr == "" {
		return out, fmt.Errorf("mysql config: Addr is empty")
	}
	host, port, err := net.SplitHostPort(out.Addr)
	if err != nil || host == "" {
		return out, fmt.Errorf("mysql config: Addr %q: want host:port", out.Addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return out, fmt.Errorf("mysql config: Addr %q: bad port", out.Addr)
	}
	if out.User == "" {
		return out, fmt.Errorf("mysql config: User is empty")
	}
	if out.ServerID == 0 {
		out.ServerID = 5701
	}
	switch out.Flavor {
	case "":
		out.Flavor = FlavorMySQL
	case FlavorMySQL, FlavorMariaDB:
	default:
		return out, fmt.Errorf("mysql config: flavor %q: want %q or %q", out.Flavor, FlavorMySQL, FlavorMariaDB)
	}
	if out.TopicPrefix == "" {
		return out, fmt.Errorf("mysql config: TopicPrefix is empty")
	}
	if out.HeartbeatInterval < 0 {
		return out, fmt.Errorf("mysql config: HeartbeatInterval %v is negative", out.HeartbeatInterval)
	}
	if out.MaxTxnChanges <= 0 {
		out.MaxTxnChanges = 10_000
	}
	return out, nil
}

// newTableFilter builds the capture core's table filter from c.
func newTableFilter(c Config) (*capture.TableFilter, error) {
	f, err := capture.NewTableFilter(nil, c.Include, c.Exclude)
	if err != nil {
		return nil, fmt.Errorf("mysql config: %w", err)
	}
	return f, nil
}
