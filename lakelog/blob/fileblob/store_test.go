package fileblob_test

import (
	"testing"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/blobtest"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, err := fileblob.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
