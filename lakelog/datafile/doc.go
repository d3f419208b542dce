// Package datafile writes and reads the Parquet data files of a Delta table.
//
// A Writer turns rows of Go values (one value per top-level field of a
// lakelog.StructType, types listed on Writer.Write) into one Parquet file laid
// out per the Delta protocol's type mapping (§Delta Data Type to Parquet Type
// Mappings), computes the file's Delta statistics while the rows stream past,
// and uploads the file with PutIfAbsent, returning the *lakelog.Add to commit.
// ReadFile reads a data file back by the table's current schema.
//
// Invariants:
//   - The Parquet columns appear in the schema's field order (DuckDB, Spark and
//     delta-rs resolve by name, but positional readers and humans see the
//     table's order); structs are groups, arrays are 3-level LISTs.
//   - Stats follow Spark's StatisticsCollection: the first NumIndexedCols leaf
//     columns (a struct's fields count one by one, an array counts once);
//     min/max only for numbers, dates, timestamps and strings; nullCount for
//     all. Every recorded min is <= and every max is >= each value of the
//     column, so data skipping that trusts them never drops a matching file:
//     string bounds are 32-UTF-16-unit prefixes (max with a tie-break
//     character), timestamp min is floored and max is ceiled to the
//     millisecond, and a float column holding NaN or ±Inf gets no min/max.
//   - A Writer is not safe for concurrent use; memory is bounded by one row
//     group's column buffers plus the encoded file, which is in memory, or
//     with Options.TempDir in an unlinked temporary file (mapped, not
//     copied, for the upload).
//   - zstd encoders are shared by all Writers of a level (codec.go): at most
//     min(GOMAXPROCS, 8) per level exist, whatever the number of open
//     Writers, and they compress pages to the same bytes as parquet-go's
//     own codec.
package datafile
