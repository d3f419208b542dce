package lakelog

import (
	"fmt"
	"slices"
)

// This file decides whether lakelog may read or write a table given its
// protocol action (§Protocol Evolution, §Table Features). Refusing is always
// safe; misreading a table whose semantics we do not implement is not.

// readableFeatures are the reader features lakelog can read the log of.
// Deletion vectors, column mapping, timestamp_ntz and type widening change
// how data files are interpreted; the log itself reads the same, so they
// are supported here and the data-file reader must honour them.
var readableFeatures = []string{
	"columnMapping",
	"deletionVectors",
	"timestampNtz",
	"typeWidening",
	"typeWidening-preview",
	"v2Checkpoint",
	"vacuumProtocolCheck",
}

// SupportedReaderFeatures returns the reader features CheckReadable accepts.
func SupportedReaderFeatures() []string { return slices.Clone(readableFeatures) }

// CheckReadable returns an *UnsupportedFeatureError (Reader true) when the
// table needs a reader version above 3 or a reader feature lakelog does not
// support. minReaderVersion 2 implies columnMapping, which is supported.
func (p Protocol) CheckReadable() error {
	if p.MinReaderVersion < 1 || p.MinReaderVersion > 3 {
		return &UnsupportedFeatureError{Feature: fmt.Sprintf("minReaderVersion=%d", p.MinReaderVersion), Reader: true}
	}
	if p.MinReaderVersion == 3 {
		for _, f := range p.ReaderFeatures {
			if !slices.Contains(readableFeatures, f) {
				return &UnsupportedFeatureError{Feature: f, Reader: true}
			}
		}
	}
	return nil
}

// impliedWriterFeatures are the features a legacy (pre-7) writer version
// implies (§Writer Version Requirements). Version 2 also implies
// invariants, which only matter when a schema field carries
// delta.invariants metadata; CheckWritable leaves that check to the caller.
func impliedWriterFeatures(v int) []string {
	var fs []string
	if v >= 2 {
		fs = append(fs, "appendOnly")
	}
	if v >= 3 {
		fs = append(fs, "checkConstraints")
	}
	if v >= 4 {
		fs = append(fs, "changeDataFeed", "generatedColumns")
	}
	if v >= 5 {
		fs = append(fs, "columnMapping")
	}
	if v >= 6 {
		fs = append(fs, "identityColumns")
	}
	return fs
}

// CheckWritable returns an *UnsupportedFeatureError when writing the table
// needs a feature not in supported (the writer features the caller
// implements, e.g. appendOnly, domainMetadata, clustering). Writers must
// also implement every reader feature, so reader features are checked
// against supported too, as is columnMapping for minReaderVersion 2.
// Legacy writer versions imply their features; writer version 2's
// invariants are not checked here (see impliedWriterFeatures).
func (p Protocol) CheckWritable(supported []string) error {
	if err := p.CheckReadable(); err != nil {
		return err
	}
	need := func(f string, reader bool) error {
		if !slices.Contains(supported, f) {
			return &UnsupportedFeatureError{Feature: f, Reader: reader}
		}
		return nil
	}
	switch p.MinReaderVersion {
	case 2:
		if err := need("columnMapping", true); err != nil {
			return err
		}
	case 3:
		for _, f := range p.ReaderFeatures {
			if err := need(f, true); err != nil {
				return err
			}
		}
	}
	switch {
	case p.MinWriterVersion < 1 || p.MinWriterVersion > 7:
		return &UnsupportedFeatureError{Feature: fmt.Sprintf("minWriterVersion=%d", p.MinWriterVersion)}
	case p.MinWriterVersion == 7:
		for _, f := range p.WriterFeatures {
			if err := need(f, false); err != nil {
				return err
			}
		}
	default:
		for _, f := range impliedWriterFeatures(p.MinWriterVersion) {
			if err := need(f, false); err != nil {
				return err
			}
		}
	}
	return nil
}
