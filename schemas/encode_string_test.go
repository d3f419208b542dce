package schemas

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// appendString must write what encoding/json writes with HTML escaping
// off, except that (like Jackson) it leaves U+2028 and U+2029 unescaped;
// inputs with those are skipped. The word-at-a-time scan (plain8) must
// never skip a byte that needs escaping, wherever it sits in the word.
func checkAppendString(t *testing.T, s string) {
	t.Helper()
	if strings.ContainsAny(s, "\u2028\u2029") {
		return
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	if got := appendString(nil, s); !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
		t.Errorf("appendString(%q) = %s, encoding/json = %s", s, got, want.Bytes())
	}
}

func TestAppendStringEveryBytePosition(t *testing.T) {
	specials := []string{"\"", "\\", "\n", "\x00", "\x1f", "\x7f", "é", "\xff", "<&>", "\u00a0"}
	for n := 0; n <= 20; n++ {
		for pos := 0; pos <= n; pos++ {
			for _, sp := range specials {
				checkAppendString(t, strings.Repeat("a", pos)+sp+strings.Repeat("b", n-pos))
			}
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"plain ascii text here", "tab\there", "quote\"d", "ünïcödé and more", "\xc3\x28 bad utf8"} {
		f.Add(s)
	}
	f.Fuzz(checkAppendString)
}
