// Package mysqltype maps MySQL/MariaDB column types to Debezium columns and
// converts column values to Debezium's logical JSON value.
//
// It is the one mapping shared by capture/mysql (binlog row events) and
// snapshot/mysql (rows read with SELECT), which may not import each other:
// both must produce identical columns and values for identical rows, or the
// merge would see a snapshot row and a change of the same data as
// different. The two read different wire forms (binlog images decoded by
// go-mysql; the client protocol's values), so each describes a column as a
// Def (a neutral description: binlog type codes and metadata, or
// information_schema) and passes the decoded pieces (integers, decimal and
// temporal text, bit masks, bytes) to the Column methods here, which make
// the Debezium value. The mapping table is in capture/mysql's doc.
//
// Invariants: decimals never pass through float64; temporal values keep
// their fractional digits; a value that cannot be represented is an error,
// never a guess. Zero dates ('0000-00-00') become null in nullable columns
// and the epoch otherwise, as in Debezium.
package mysqltype
