package mysql

import (
	"fmt"
	"strconv"
	"strings"
)

// position is where a stream stands: just after the last complete
// transaction. File and Pos are the binlog coordinates of the end of that
// transaction's commit event (XID, COMMIT or the DDL query), i.e. where the
// next transaction starts; GTID is the server's executed GTID set including
// it, in the flavor's own syntax ("0-1-42,1-2-7" for MariaDB,
// "uuid:1-42,…" for MySQL), empty when the server has none.
//
// As a string: "<file>:<pos>" or "<file>:<pos>;<gtid set>". Binlog file
// names contain neither ':' nor ';'.
type position struct {
	File string
	Pos  uint64
	GTID string
}

func (p position) String() string {
	s := p.File + ":" + strconv.FormatUint(p.Pos, 10)
	if p.GTID != "" {
		s += ";" + p.GTID
	}
	return s
}

// parsePosition parses position.String's output.
func parsePosition(s string) (position, error) {
	coord, gtid, _ := strings.Cut(s, ";")
	i := strings.LastIndexByte(coord, ':')
	if i <= 0 {
		return position{}, fmt.Errorf("position %q: want <file>:<pos>[;<gtid set>]", s)
	}
	file := coord[:i]
	if strings.ContainsAny(file, ":; \t\n") {
		return position{}, fmt.Errorf("position %q: bad binlog file name", s)
	}
	pos, err := strconv.ParseUint(coord[i+1:], 10, 32)
	if err != nil {
		return position{}, fmt.Errorf("position %q: binlog offset: %w", s, err)
	}
	if pos < 4 {
		// Every binlog file starts with a 4-byte magic number.
		return position{}, fmt.Errorf("position %q: binlog offset %d is inside the file header", s, pos)
	}
	if strings.ContainsAny(gtid, "; \t\n") {
		return position{}, fmt.Errorf("position %q: bad GTID set", s)
	}
	return position{File: file, Pos: pos, GTID: gtid}, nil
}
