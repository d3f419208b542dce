package postgres

import "testing"

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{
		{},
		{DSN: "x"},
		{DSN: "x", TopicPrefix: "p", SlotName: "Bad-Name"},
		{DSN: "x", TopicPrefix: "p", ProtoVersion: 4},
	} {
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("withDefaults(%+v) succeeded, want error", c)
		}
	}
	if _, err := newTableFilter(Config{Include: []string{"("}}); err == nil {
		t.Error("bad include regexp accepted")
	}
	f, _ := newTableFilter(Config{Include: []string{`public\..*`}, Exclude: []string{`public\.skip`}})
	if !f.Match("public.a") || f.Match("public.skip") || f.Match("other.a") {
		t.Error("filter mismatch")
	}
}
