package capture

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

func TestStatsSourceTransactions(t *testing.T) {
	changes := func(n int) []schemas.Change { return make([]schemas.Change, n) }
	heartbeat := Batch{Position: "hb"}
	tests := []struct {
		name   string
		group  []Batch
		events int
		want   int64
	}{
		{"one transaction", []Batch{{Changes: changes(2), Position: "a"}}, 2, 1},
		{"heartbeat only", []Batch{heartbeat}, 0, 0},
		{"heartbeats around transactions", []Batch{heartbeat, {Changes: changes(1), Position: "a"}, heartbeat, {Changes: changes(3), Position: "b"}, heartbeat}, 4, 2},
		// Run hands committed only the last part of a transaction it produced
		// in Partial parts; events counts every part.
		{"last part of a large transaction", []Batch{{Changes: changes(1), Position: "a"}}, 7, 1},
		{"empty last part of a large transaction", []Batch{{Position: "a"}}, 6, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Stats
			s.committed(tt.group, tt.events, time.UnixMilli(1000))
			if got := s.SourceTransactions.Load(); got != tt.want {
				t.Errorf("SourceTransactions = %d, want %d", got, tt.want)
			}
			if got := s.KafkaTransactions.Load(); got != 1 {
				t.Errorf("KafkaTransactions = %d, want 1", got)
			}
			if got := s.Events.Load(); got != int64(tt.events) {
				t.Errorf("Events = %d, want %d", got, tt.events)
			}
		})
	}
}
