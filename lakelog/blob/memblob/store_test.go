package memblob_test

import (
	"testing"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/blobtest"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return memblob.New() })
}

func TestConformanceSharedStore(t *testing.T) {
	// One store shared by every subtest: namespaces must keep them apart.
	s := memblob.New()
	blobtest.Run(t, func(t *testing.T) blob.Store { return s })
}
