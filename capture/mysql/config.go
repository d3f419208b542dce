package mysql

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"
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
	return out, nil
}

// tableFilter decides which tables are captured, by "db.table".
type tableFilter struct {
	include []*regexp.Regexp
	exclude []*regexp.Regexp
}

func newTableFilter(c Config) (*tableFilter, error) {
	f := &tableFilter{}
	for _, p := range c.Include {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return nil, fmt.Errorf("mysql config: include %q: %w", p, err)
		}
		f.include = append(f.include, re)
	}
	for _, p := range c.Exclude {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return nil, fmt.Errorf("mysql config: exclude %q: %w", p, err)
		}
		f.exclude = append(f.exclude, re)
	}
	return f, nil
}

// match reports whether db.table is captured.
func (f *tableFilter) match(name string) bool {
	if len(f.include) > 0 {
		ok := false
		for _, re := range f.include {
			if re.MatchString(name) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, re := range f.exclude {
		if re.MatchString(name) {
			return false
		}
	}
	return true
}
