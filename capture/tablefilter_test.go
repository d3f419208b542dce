package capture

import (
	"strings"
	"testing"
)

func TestTableFilter(t *testing.T) {
	f, err := NewTableFilter(nil, []string{`public\..*`, `app\.orders`}, []string{`public\.tmp_.*`})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"public.users": true, "app.orders": true, "app.orders_old": false,
		"public.tmp_x": false, "other.users": false, "xpublic.users": false,
	} {
		if got := f.Match(name); got != want {
			t.Errorf("Match(%q) = %v, want %v", name, got, want)
		}
	}
	only, _ := NewTableFilter([]string{"public.a"}, nil, nil)
	if !only.Match("public.a") || only.Match("public.b") {
		t.Error("explicit table list not honoured")
	}
	if _, err := NewTableFilter(nil, nil, []string{"("}); err == nil || !strings.Contains(err.Error(), `exclude "("`) {
		t.Errorf("bad pattern: err = %v, want it named", err)
	}
}
