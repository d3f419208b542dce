package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/lakelog/blob"
)

// Run runs the conformance suite against the stores newStore returns, first
// directly and then through blob.Sub views. newStore is called once per
// subtest with that subtest's t; it may return the same backing store each
// time.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	t.Helper()
	runAll(t, newStore)
	t.Run("Sub", func(t *testing.T) {
		runAll(t, func(t *testing.T) blob.Store {
			return blob.Sub(newStore(t), "sub-view/x/")
		})
		t.Run("Isolation", func(t *testing.T) { testSubIsolation(t, newStore(t), namespace()) })
	})
}

func runAll(t *testing.T, newStore func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store, ns string)
	}{
		{"GetMissing", testGetMissing},
		{"PutGet", testPutGet},
		{"PutReplaces", testPutReplaces},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentRace", testPutIfAbsentRace},
		{"ConcurrentDistinctKeys", testConcurrentDistinctKeys},
		{"List", testList},
		{"ListNesting", testListNesting},
		{"ListEmpty", testListEmpty},
		{"ListEarlyStop", testListEarlyStop},
		{"SpecialKeys", testSpecialKeys},
		{"Delete", testDelete},
		{"EmptyObject", testEmptyObject},
		{"LargeObject", testLargeObject},
		{"InvalidKeys", testInvalidKeys},
		{"CancelledContext", testCancelledContext},
		{"Stat", testStat},
		{"ListFrom", testListFrom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t), namespace())
		})
	}
}

// namespace returns a fresh key prefix ending in "/".
func namespace() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "blobtest-" + hex.EncodeToString(b[:]) + "/"
}

func get(t *testing.T, s blob.Store, key string) ([]byte, error) {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data, nil
}

func mustGet(t *testing.T, s blob.Store, key string) []byte {
	t.Helper()
	data, err := get(t, s, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return data
}

func mustPut(t *testing.T, s blob.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, data); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func wantNotExist(t *testing.T, s blob.Store, key string) {
	t.Helper()
	_, err := get(t, s, key)
	if !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("Get(%q) = %v, want an error wrapping blob.ErrNotExist", key, err)
	}
}

func list(t *testing.T, s blob.Store, prefix string) []blob.Object {
	t.Helper()
	var objs []blob.Object
	for o, err := range s.List(t.Context(), prefix) {
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		objs = append(objs, o)
	}
	return objs
}

func keys(objs []blob.Object) []string {
	ks := make([]string, len(objs))
	for i, o := range objs {
		ks[i] = o.Key
	}
	return ks
}

func testGetMissing(t *testing.T, s blob.Store, ns string) {
	wantNotExist(t, s, ns+"missing")
	wantNotExist(t, s, ns+"missing/nested/key.json")
}

func testPutGet(t *testing.T, s blob.Store, ns string) {
	key := ns + "_delta_log/00000000000000000000.json"
	want := []byte(`{"commitInfo":{}}` + "\n")
	mustPut(t, s, key, want)
	if got := mustGet(t, s, key); !bytes.Equal(got, want) {
		t.Fatalf("Get = %q, want %q", got, want)
	}
	// The store must not keep a reference to the caller's slice.
	want[0] = 'X'
	if got := mustGet(t, s, key); got[0] != '{' {
		t.Fatalf("stored object changed when the caller's slice was modified: %q", got)
	}
}

func testPutReplaces(t *testing.T, s blob.Store, ns string) {
	key := ns + "_last_checkpoint"
	mustPut(t, s, key, []byte("first, longer content"))
	mustPut(t, s, key, []byte("second"))
	if got, want := string(mustGet(t, s, key)), "second"; got != want {
		t.Fatalf("Get after replace = %q, want %q", got, want)
	}
	// Put with the same data again is idempotent.
	mustPut(t, s, key, []byte("second"))
	if got, want := string(mustGet(t, s, key)), "second"; got != want {
		t.Fatalf("Get after repeated Put = %q, want %q", got, want)
	}
}

func testPutIfAbsent(t *testing.T, s blob.Store, ns string) {
	ctx := t.Context()
	key := ns + "_delta_log/00000000000000000001.json"
	if err := s.PutIfAbsent(ctx, key, []byte("winner")); err != nil {
		t.Fatalf("PutIfAbsent on a new key: %v", err)
	}
	err := s.PutIfAbsent(ctx, key, []byte("loser"))
	if !errors.Is(err, blob.ErrExist) {
		t.Fatalf("PutIfAbsent on an existing key = %v, want an error wrapping blob.ErrExist", err)
	}
	if got, want := string(mustGet(t, s, key)), "winner"; got != want {
		t.Fatalf("content after refused PutIfAbsent = %q, want %q", got, want)
	}
	// An object written by Put also blocks PutIfAbsent.
	key2 := ns + "put-first"
	mustPut(t, s, key2, []byte("put"))
	if err := s.PutIfAbsent(ctx, key2, []byte("pia")); !errors.Is(err, blob.ErrExist) {
		t.Fatalf("PutIfAbsent over a Put object = %v, want blob.ErrExist", err)
	}
	// After Delete the key is free again.
	if err := s.Delete(ctx, key2); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.PutIfAbsent(ctx, key2, []byte("again")); err != nil {
		t.Fatalf("PutIfAbsent after Delete: %v", err)
	}
	if got, want := string(mustGet(t, s, key2)), "again"; got != want {
		t.Fatalf("Get = %q, want %q", got, want)
	}
}

// testPutIfAbsentRace is the commit race: 16 writers, one version, exactly
// one winner, and the stored bytes are the winner's.
func testPutIfAbsentRace(t *testing.T, s blob.Store, ns string) {
	const writers = 16
	ctx := t.Context()
	for round := range 3 {
		key := fmt.Sprintf("%s_delta_log/%020d.json", ns, round)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, writers)
		)
		for i := range writers {
			wg.Go(func() {
				<-start
				errs[i] = s.PutIfAbsent(ctx, key, fmt.Appendf(nil, "writer %02d round %d", i, round))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: writers %d and %d both succeeded", round, winner, i)
				}
				winner = i
			case errors.Is(err, blob.ErrExist):
			default:
				t.Fatalf("round %d: writer %d: %v, want nil or blob.ErrExist", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer succeeded: %v", round, errs)
		}
		want := fmt.Sprintf("writer %02d round %d", winner, round)
		if got := string(mustGet(t, s, key)); got != want {
			t.Fatalf("round %d: stored %q, want the winner's %q", round, got, want)
		}
	}
}

func testConcurrentDistinctKeys(t *testing.T, s blob.Store, ns string) {
	const goroutines, perG = 16, 4
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perG)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				key := fmt.Sprintf("%sg%02d/k%d", ns, g, i)
				var err error
				if i%2 == 0 {
					err = s.Put(ctx, key, []byte(key))
				} else {
					err = s.PutIfAbsent(ctx, key, []byte(key))
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", key, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	objs := list(t, s, ns)
	if got, want := len(objs), goroutines*perG; got != want {
		t.Fatalf("List found %d objects, want %d", got, want)
	}
	for _, o := range objs {
		if got := string(mustGet(t, s, o.Key)); got != o.Key {
			t.Errorf("Get(%q) = %q, want the key itself", o.Key, got)
		}
	}
}

func testList(t *testing.T, s blob.Store, ns string) {
	objects := map[string]string{
		"_delta_log/00000000000000000000.json": "zero",
		"_delta_log/00000000000000000001.json": "one!",
		"_delta_log/00000000000000000010.json": "ten-ten",
		"_delta_log/_last_checkpoint":          "{}",
		"part-00000.parquet":                   "",
		"z":                                    "zz",
	}
	for k, v := range objects {
		mustPut(t, s, ns+k, []byte(v))
	}
	// A neighbouring namespace must not leak into ours.
	mustPut(t, s, ns[:len(ns)-1]+"-other/x", []byte("x"))

	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{
			"_delta_log/00000000000000000000.json",
			"_delta_log/00000000000000000001.json",
			"_delta_log/00000000000000000010.json",
			"_delta_log/_last_checkpoint",
			"part-00000.parquet",
			"z",
		}},
		{"_delta_log/", []string{
			"_delta_log/00000000000000000000.json",
			"_delta_log/00000000000000000001.json",
			"_delta_log/00000000000000000010.json",
			"_delta_log/_last_checkpoint",
		}},
		{"_delta_log/0000000000000000000", []string{
			"_delta_log/00000000000000000000.json",
			"_delta_log/00000000000000000001.json",
		}},
		{"_delta_log/_", []string{"_delta_log/_last_checkpoint"}},
		{"part", []string{"part-00000.parquet"}},
		{"z", []string{"z"}},
		{"zz", nil},
		{"nothing/here/", nil},
	}
	for _, tt := range tests {
		objs := list(t, s, ns+tt.prefix)
		var got []string
		for _, o := range objs {
			k := o.Key[len(ns):]
			got = append(got, k)
			if want := int64(len(objects[k])); o.Size != want {
				t.Errorf("List(%q): %q size %d, want %d", tt.prefix, k, o.Size, want)
			}
			if o.ModTime.IsZero() {
				t.Errorf("List(%q): %q has a zero ModTime", tt.prefix, k)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

// testListNesting checks lexical order across "directory" boundaries,
// where a directory walk in name order would get it wrong.
func testListNesting(t *testing.T, s blob.Store, ns string) {
	in := []string{"a/b/c", "a/bc", "a/b.txt", "a/b/d", "a.txt", "a/a", "a-b", "b"}
	for _, k := range in {
		mustPut(t, s, ns+k, []byte(k))
	}
	want := []string{"a-b", "a.txt", "a/a", "a/b.txt", "a/b/c", "a/b/d", "a/bc", "b"}
	var got []string
	for _, k := range keys(list(t, s, ns)) {
		got = append(got, k[len(ns):])
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	got = nil
	for _, k := range keys(list(t, s, ns+"a/b")) {
		got = append(got, k[len(ns):])
	}
	if want := []string{"a/b.txt", "a/b/c", "a/b/d", "a/bc"}; !slices.Equal(got, want) {
		t.Fatalf("List(a/b) = %q, want %q", got, want)
	}
	got = nil
	for _, k := range keys(list(t, s, ns+"a/b/")) {
		got = append(got, k[len(ns):])
	}
	if want := []string{"a/b/c", "a/b/d"}; !slices.Equal(got, want) {
		t.Fatalf("List(a/b/) = %q, want %q", got, want)
	}
}

func testListEmpty(t *testing.T, s blob.Store, ns string) {
	if objs := list(t, s, ns); len(objs) != 0 {
		t.Fatalf("List of an unused prefix = %v, want nothing", keys(objs))
	}
	if objs := list(t, s, ns+"deep/er/"); len(objs) != 0 {
		t.Fatalf("List of an unused nested prefix = %v, want nothing", keys(objs))
	}
}

func testListEarlyStop(t *testing.T, s blob.Store, ns string) {
	for i := range 5 {
		mustPut(t, s, fmt.Sprintf("%sk%d", ns, i), nil)
	}
	var got []string
	for o, err := range s.List(t.Context(), ns) {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		got = append(got, o.Key[len(ns):])
		if len(got) == 2 {
			break
		}
	}
	if want := []string{"k0", "k1"}; !slices.Equal(got, want) {
		t.Fatalf("List stopped after 2 = %q, want %q", got, want)
	}
}

func testSpecialKeys(t *testing.T, s blob.Store, ns string) {
	special := []string{
		"date=2024-01-01/part-0.parquet",
		"pct%20literal",
		"pct%",
		"with space",
		"plus+sign",
		"eq=and&amp",
		"ünïcødé/日本語.json",
		"emoji-🚀",
		"tilde~(paren)",
		"semi;colon,comma",
		"quote'single",
	}
	for _, k := range special {
		mustPut(t, s, ns+k, []byte("v:"+k))
	}
	for _, k := range special {
		if got, want := string(mustGet(t, s, ns+k)), "v:"+k; got != want {
			t.Errorf("Get(%q) = %q, want %q", k, got, want)
		}
	}
	want := slices.Clone(special)
	slices.Sort(want)
	var got []string
	for _, k := range keys(list(t, s, ns)) {
		got = append(got, k[len(ns):])
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	if err := s.PutIfAbsent(t.Context(), ns+"with space", []byte("x")); !errors.Is(err, blob.ErrExist) {
		t.Fatalf("PutIfAbsent on existing special key = %v, want blob.ErrExist", err)
	}
	for _, k := range special {
		if err := s.Delete(t.Context(), ns+k); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
	}
	if objs := list(t, s, ns); len(objs) != 0 {
		t.Fatalf("List after deleting all = %q, want nothing", keys(objs))
	}
}

func testDelete(t *testing.T, s blob.Store, ns string) {
	ctx := t.Context()
	key := ns + "doomed"
	mustPut(t, s, key, []byte("x"))
	mustPut(t, s, ns+"doomed-neighbour", []byte("y"))
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotExist(t, s, key)
	if got, want := keys(list(t, s, ns)), []string{ns + "doomed-neighbour"}; !slices.Equal(got, want) {
		t.Fatalf("List after Delete = %q, want %q", got, want)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete of a deleted key: %v", err)
	}
	if err := s.Delete(ctx, ns+"never/existed"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
}

func testEmptyObject(t *testing.T, s blob.Store, ns string) {
	key := ns + "empty"
	if err := s.PutIfAbsent(t.Context(), key, nil); err != nil {
		t.Fatalf("PutIfAbsent(empty): %v", err)
	}
	if got := mustGet(t, s, key); len(got) != 0 {
		t.Fatalf("Get(empty) = %q, want no bytes", got)
	}
	objs := list(t, s, ns)
	if len(objs) != 1 || objs[0].Key != key || objs[0].Size != 0 {
		t.Fatalf("List = %+v, want one empty object %q", objs, key)
	}
	if err := s.PutIfAbsent(t.Context(), key, []byte("x")); !errors.Is(err, blob.ErrExist) {
		t.Fatalf("PutIfAbsent over an empty object = %v, want blob.ErrExist", err)
	}
}

func testLargeObject(t *testing.T, s blob.Store, ns string) {
	want := make([]byte, 5<<20+17)
	_, _ = rand.Read(want)
	key := ns + "part-00000-large.parquet"
	if err := s.PutIfAbsent(t.Context(), key, want); err != nil {
		t.Fatalf("PutIfAbsent(5 MiB): %v", err)
	}
	got := mustGet(t, s, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(5 MiB) returned %d bytes that differ from the %d written", len(got), len(want))
	}
	objs := list(t, s, ns)
	if len(objs) != 1 || objs[0].Size != int64(len(want)) {
		t.Fatalf("List = %+v, want one object of %d bytes", objs, len(want))
	}
}

func testInvalidKeys(t *testing.T, s blob.Store, ns string) {
	ctx := t.Context()
	for _, key := range []string{"", "/abs", ns + "a//b", ns + "a/../b", ns + "./a", ns + "trailing/", ns + "..", "nul\x00byte"} {
		if _, err := s.Get(ctx, key); err == nil || errors.Is(err, blob.ErrNotExist) {
			t.Errorf("Get(%q) = %v, want an invalid-key error", key, err)
		}
		if err := s.Put(ctx, key, []byte("x")); err == nil {
			t.Errorf("Put(%q) succeeded, want an invalid-key error", key)
		}
		if err := s.PutIfAbsent(ctx, key, []byte("x")); err == nil || errors.Is(err, blob.ErrExist) {
			t.Errorf("PutIfAbsent(%q) = %v, want an invalid-key error", key, err)
		}
		if err := s.Delete(ctx, key); err == nil {
			t.Errorf("Delete(%q) succeeded, want an invalid-key error", key)
		}
	}
	if objs := list(t, s, ns); len(objs) != 0 {
		t.Fatalf("invalid keys left objects behind: %q", keys(objs))
	}
}

func testCancelledContext(t *testing.T, s blob.Store, ns string) {
	mustPut(t, s, ns+"existing", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s with a cancelled context succeeded", op)
		} else if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want an error wrapping context.Canceled", op, err)
		}
	}
	rc, err := s.Get(ctx, ns+"existing")
	if err == nil {
		rc.Close()
	}
	check("Get", err)
	check("Put", s.Put(ctx, ns+"new-put", []byte("x")))
	check("PutIfAbsent", s.PutIfAbsent(ctx, ns+"new-pia", []byte("x")))
	check("Delete", s.Delete(ctx, ns+"existing"))
	var listErr error
	for _, err := range s.List(ctx, ns) {
		if err != nil {
			listErr = err
			break
		}
	}
	check("List", listErr)
	wantNotExist(t, s, ns+"new-put")
	wantNotExist(t, s, ns+"new-pia")
	if got := string(mustGet(t, s, ns+"existing")); got != "x" {
		t.Fatalf("existing object after cancelled Delete = %q, want %q", got, "x")
	}
}

func testStat(t *testing.T, s blob.Store, ns string) {
	st, ok := s.(blob.Stat)
	if !ok {
		t.Skip("store does not implement blob.Stat")
	}
	ctx := t.Context()
	if _, err := st.Stat(ctx, ns+"missing"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("Stat(missing) = %v, want blob.ErrNotExist", err)
	}
	mustPut(t, s, ns+"seven", []byte("1234567"))
	o, err := st.Stat(ctx, ns+"seven")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if o.Key != ns+"seven" || o.Size != 7 || o.ModTime.IsZero() {
		t.Fatalf("Stat = %+v, want key %q, size 7, a ModTime", o, ns+"seven")
	}
}

func testListFrom(t *testing.T, s blob.Store, ns string) {
	lf, ok := s.(blob.ListFrom)
	if !ok {
		t.Skip("store does not implement blob.ListFrom")
	}
	all := []string{
		"_delta_log/00000000000000000000.json",
		"_delta_log/00000000000000000001.json",
		"_delta_log/00000000000000000002.checkpoint.parquet",
		"_delta_log/00000000000000000002.json",
		"_delta_log/00000000000000000003.json",
		"_delta_log/sub/x",
		"other",
	}
	for _, k := range all {
		mustPut(t, s, ns+k, nil)
	}
	tests := []struct {
		prefix, start string
		want          []string
	}{
		{"_delta_log/", "_delta_log/00000000000000000002", all[2:6]},
		{"_delta_log/", "_delta_log/00000000000000000002.json", all[3:6]},
		{"_delta_log/", "", all[:6]},
		{"_delta_log/", "_delta_log/s", all[5:6]},
		{"_delta_log/", "_delta_log/z", nil},
		{"", "_delta_log/sub/", all[5:]},
		{"", "a", all[6:]},
	}
	for _, tt := range tests {
		var got []string
		start := ""
		if tt.start != "" {
			start = ns + tt.start
		}
		for o, err := range lf.ListFrom(t.Context(), ns+tt.prefix, start) {
			if err != nil {
				t.Fatalf("ListFrom(%q, %q): %v", tt.prefix, tt.start, err)
			}
			got = append(got, o.Key[len(ns):])
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ListFrom(%q, %q) = %q, want %q", tt.prefix, tt.start, got, tt.want)
		}
	}
}

// testSubIsolation checks what a view adds: keys map to prefix+key in the
// parent, List strips the prefix, and nothing outside the prefix is visible.
func testSubIsolation(t *testing.T, parent blob.Store, ns string) {
	view := blob.Sub(parent, ns+"tables/orders")
	mustPut(t, view, "_delta_log/00000000000000000000.json", []byte("v0"))
	mustPut(t, parent, ns+"tables/orders-archive/x", []byte("outside"))
	mustPut(t, parent, ns+"tables/other/y", []byte("outside"))

	if got := string(mustGet(t, parent, ns+"tables/orders/_delta_log/00000000000000000000.json")); got != "v0" {
		t.Fatalf("parent Get of the view's key = %q, want %q", got, "v0")
	}
	if got, want := keys(list(t, view, "")), []string{"_delta_log/00000000000000000000.json"}; !slices.Equal(got, want) {
		t.Fatalf("view List = %q, want %q", got, want)
	}
	wantNotExist(t, view, "x")
	nested := blob.Sub(view, "_delta_log/")
	if got := string(mustGet(t, nested, "00000000000000000000.json")); got != "v0" {
		t.Fatalf("Sub of Sub Get = %q, want %q", got, "v0")
	}
	if _, err := view.Get(t.Context(), "../other/y"); err == nil {
		t.Fatal("view Get(../other/y) escaped the prefix")
	}
	if _, err := blob.Sub(parent, "../escape").Get(t.Context(), "x"); err == nil || errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("Sub with an invalid prefix: Get = %v, want an invalid-prefix error", err)
	}
}
