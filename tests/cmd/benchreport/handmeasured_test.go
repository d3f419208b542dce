package main

import "testing"

func TestHandMeasuredTailKept(t *testing.T) {
	old := "# Benchmarks\n\n## old generated part\n\n" + HandMeasuredMarker + "\n\n## By hand\n\n| a | b |\n"
	got := string(HandMeasured([]byte(old)))
	want := "\n" + HandMeasuredMarker + "\n\n## By hand\n\n| a | b |\n"
	if got != want {
		t.Errorf("HandMeasured = %q, want %q", got, want)
	}
	if got := HandMeasured([]byte("# Benchmarks\n\nno marker\n")); got != nil {
		t.Errorf("HandMeasured without marker = %q, want nil", got)
	}
}
