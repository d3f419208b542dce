package jobs

import (
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
	"github.com/sluicehq/sluice/lakelog/blob/s3blob"
)

func putKey(t *testing.T, s blob.Store, key, data string) {
	t.Helper()
	if err := s.Put(t.Context(), key, []byte(data)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

func TestOpenStoreFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		url      string
		wantFile string // where key "k/v" must land, relative to dir
	}{
		{"file://" + filepath.Join(dir, "viaurl"), "viaurl/k/v"},
		{"file://localhost" + filepath.Join(dir, "vialocalhost"), "vialocalhost/k/v"},
		{filepath.Join(dir, "abs"), "abs/k/v"},
		{"rel/table", "rel/table/k/v"},
		{"./dot", "dot/k/v"},
	}
	for _, tt := range tests {
		s, err := OpenStore(t.Context(), tt.url, StoreOptions{})
		if err != nil {
			t.Fatalf("OpenStore(%q): %v", tt.url, err)
		}
		if _, ok := s.(*fileblob.Store); !ok {
			t.Fatalf("OpenStore(%q) = %T, want *fileblob.Store", tt.url, s)
		}
		putKey(t, s, "k/v", tt.url)
		if got := readFile(t, filepath.Join(dir, tt.wantFile)); got != tt.url {
			t.Errorf("OpenStore(%q): file %s holds %q, want %q", tt.url, tt.wantFile, got, tt.url)
		}
	}
}

func TestOpenStoreMem(t *testing.T) {
	a1, err := OpenStore(t.Context(), "mem://shared-a", StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := OpenStore(t.Context(), "mem://shared-a", StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenStore(t.Context(), "mem://shared-b", StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a1.(*memblob.Store); !ok {
		t.Fatalf("OpenStore(mem://) = %T, want *memblob.Store", a1)
	}
	putKey(t, a1, "k", "v")
	rc, err := a2.Get(t.Context(), "k")
	if err != nil {
		t.Fatalf("same name, other handle: Get: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "v" {
		t.Fatalf("Get = %q, want %q", got, "v")
	}
	if _, err := b.Get(t.Context(), "k"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("other name: Get = %v, want ErrNotExist", err)
	}
}

// newFakeS3 starts gofakes3 with bucket "lake" and returns its URL and
// backend, which tests read directly to check where objects landed.
func newFakeS3(t *testing.T) (string, *s3mem.Backend) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("lake"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	return srv.URL, backend
}

func fakeObject(t *testing.T, backend *s3mem.Backend, key string) string {
	t.Helper()
	obj, err := backend.GetObject("lake", key, nil)
	if err != nil {
		t.Fatalf("fake S3 GetObject(%q): %v", key, err)
	}
	defer obj.Contents.Close()
	b, _ := io.ReadAll(obj.Contents)
	return string(b)
}

func TestOpenStoreS3(t *testing.T) {
	endpoint, backend := newFakeS3(t)
	s, err := OpenStore(t.Context(), "s3://lake/warehouse/raw", StoreOptions{
		S3Endpoint: endpoint, S3Region: "eu-west-1", S3PathStyle: true,
		S3AccessKeyID: "id", S3SecretAccessKey: "secret",
	})
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	if _, ok := s.(*s3blob.Store); !ok {
		t.Fatalf("OpenStore(s3://) = %T, want *s3blob.Store", s)
	}
	putKey(t, s, "_delta_log/00000000000000000000.json", "v0")
	if got := fakeObject(t, backend, "warehouse/raw/_delta_log/00000000000000000000.json"); got != "v0" {
		t.Fatalf("object = %q, want %q", got, "v0")
	}
}

// With empty options the SDK's own configuration applies: endpoint from
// AWS_ENDPOINT_URL_S3, credentials and region from the environment, and
// path-style addressing because the endpoint host is an IP address.
func TestOpenStoreS3FromEnvironment(t *testing.T) {
	endpoint, backend := newFakeS3(t)
	empty := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "env-id")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	t.Setenv("AWS_REGION", "us-west-2")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1") // the S3-specific one wins
	t.Setenv("AWS_ENDPOINT_URL_S3", endpoint)

	s, err := OpenStore(t.Context(), "s3://lake/env", StoreOptions{})
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	putKey(t, s, "k", "from env")
	if got := fakeObject(t, backend, "env/k"); got != "from env" {
		t.Fatalf("object = %q, want %q", got, "from env")
	}
}

func TestOpenStoreErrors(t *testing.T) {
	tests := []struct {
		url     string
		want    string // substring of the error
		secrets []string
	}{
		{"", "empty URL", nil},
		{"gs://bucket/table", `unsupported scheme "gs"`, nil},
		{"ftp://user:hunter2@example.com/x", `unsupported scheme "ftp"`, []string{"hunter2", "user"}},
		{"s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket/p", "credentials in the URL", []string{"wJalrXUtnFEMI", "AKIAEXAMPLE"}},
		{"s3://key:sec%zzret@bucket/p", "cannot parse", []string{"sec", "key"}},
		{"s3:///prefix-only", "missing bucket", nil},
		{"s3://bucket/p?region=x", "query parameters", nil},
		{"file://host/dir", "absolute path", nil},
		{"mem://", "missing name", nil},
	}
	for _, tt := range tests {
		_, err := OpenStore(t.Context(), tt.url, StoreOptions{})
		if err == nil {
			t.Errorf("OpenStore(%q) succeeded, want an error containing %q", tt.url, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("OpenStore(%q) = %v, want an error containing %q", tt.url, err, tt.want)
		}
		for _, secret := range tt.secrets {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("OpenStore(%q) error %q repeats the URL's credentials (%q)", tt.url, err, secret)
			}
		}
	}
}
