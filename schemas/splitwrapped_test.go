package schemas

import "testing"

func TestSplitWrapped(t *testing.T) {
	tests := []struct {
		value           string
		schema, payload string
		ok              bool
	}{
		{`{"schema":{"type":"struct"},"payload":{"op":"c"}}`, `{"type":"struct"}`, `{"op":"c"}`, true},
		{` { "payload" : {"op":"d"} , "schema" : null } `, `null`, `{"op":"d"}`, true},
		{`{"op":"c","before":null}`, "", "", false},                 // bare envelope
		{`{"schema":{},"payload":{"op":"c"},"x":1}`, "", "", false}, // another member
		{`{"schema":{},"payload":null}`, "", "", false},             // tombstone-like payload
		{`{"schema":{},"payload":{"op":"c"}`, "", "", false},        // truncated
		{`{"schema":{},"payload":{"op":"c"}} trailing`, "", "", false},
		{`null`, "", "", false},
	}
	for _, tt := range tests {
		schema, payload, ok := SplitWrapped([]byte(tt.value))
		if ok != tt.ok || string(schema) != tt.schema || string(payload) != tt.payload {
			t.Errorf("SplitWrapped(%s) = %q, %q, %v; want %q, %q, %v", tt.value, schema, payload, ok, tt.schema, tt.payload, tt.ok)
		}
	}
}
