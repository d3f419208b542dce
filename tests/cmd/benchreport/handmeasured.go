package main

import "bytes"

// HandMeasuredMarker starts the part of BENCHMARKS.md that benchreport does
// not generate: figures measured by hand, kept as they are when the rest
// of the file is rewritten.
const HandMeasuredMarker = "<!-- hand-measured: benchreport keeps everything below this line -->"

// HandMeasured returns the hand-measured tail of an existing report, from
// the marker line to the end, preceded by a blank line; nil when the
// report has no marker.
func HandMeasured(report []byte) []byte {
	i := bytes.Index(report, []byte(HandMeasuredMarker))
	if i < 0 {
		return nil
	}
	return append([]byte("\n"), report[i:]...)
}
