package s3blob_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/blobtest"
	"github.com/sluicehq/sluice/lakelog/blob/s3blob"
	"github.com/sluicehq/sluice/tests/testenv"
)

// newFake starts an in-process gofakes3 server with bucket "test" and
// returns its endpoint.
func newFake(t *testing.T) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("test"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	return srv.URL
}

func newStore(t *testing.T, opts s3blob.Options) *s3blob.Store {
	t.Helper()
	s, err := s3blob.New(t.Context(), opts)
	if err != nil {
		t.Fatalf("s3blob.New: %v", err)
	}
	return s
}

func fakeOptions(endpoint string) s3blob.Options {
	return s3blob.Options{
		Bucket:          "test",
		Prefix:          "warehouse/",
		Region:          "us-east-1",
		Endpoint:        endpoint,
		PathStyle:       true,
		AccessKeyID:     "fake-access",
		SecretAccessKey: "fake-secret",
	}
}

func TestConformanceGofakes3(t *testing.T) {
	s := newStore(t, fakeOptions(newFake(t)))
	blobtest.Run(t, func(t *testing.T) blob.Store { return s })
}

func TestCheckConditionalWritesGofakes3(t *testing.T) {
	s := newStore(t, fakeOptions(newFake(t)))
	if err := s.CheckConditionalWrites(t.Context()); err != nil {
		t.Fatalf("CheckConditionalWrites: %v", err)
	}
	if objs := list(t, s, ""); len(objs) != 0 {
		t.Fatalf("probe left objects behind: %+v", objs)
	}
}

func TestNewFromClient(t *testing.T) {
	endpoint := newFake(t)
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  aws.AnonymousCredentials{},
	})
	s, err := s3blob.NewFromClient(client, "test", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "k", []byte("v")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	// The same bucket seen with a prefix sees nothing of the root key.
	sp, err := s3blob.NewFromClient(client, "test", "p")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Get(t.Context(), "k"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("prefixed Get(k) = %v, want ErrNotExist", err)
	}
	if _, err := s3blob.NewFromClient(client, "test", "a/../b"); err == nil {
		t.Fatal("NewFromClient accepted prefix a/../b")
	}
}

func TestMissingBucketIsNotErrNotExist(t *testing.T) {
	opts := fakeOptions(newFake(t))
	opts.Bucket = "no-such-bucket"
	s := newStore(t, opts)
	_, err := s.Get(t.Context(), "k")
	if err == nil || errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("Get in a missing bucket = %v, want an error that is not ErrNotExist", err)
	}
}

// versitygw checks SigV4 signatures and implements If-None-Match on its
// posix backend: the real-server path of the conformance suite.
func versityOptions(t *testing.T) s3blob.Options {
	cfg := testenv.S3(t)
	return s3blob.Options{
		Bucket:          cfg.Bucket,
		Prefix:          testenv.UniqueName("blobtest") + "/",
		Region:          cfg.Region,
		Endpoint:        cfg.Endpoint,
		PathStyle:       true,
		AccessKeyID:     cfg.AccessKey,
		SecretAccessKey: cfg.SecretKey,
	}
}

func TestConformanceVersitygw(t *testing.T) {
	s := newStore(t, versityOptions(t))
	blobtest.Run(t, func(t *testing.T) blob.Store { return s })
}

func TestCheckConditionalWritesVersitygw(t *testing.T) {
	s := newStore(t, versityOptions(t))
	if err := s.CheckConditionalWrites(t.Context()); err != nil {
		t.Fatalf("CheckConditionalWrites: %v", err)
	}
	if objs := list(t, s, ""); len(objs) != 0 {
		t.Fatalf("probe left objects behind: %+v", objs)
	}
}

func TestWrongCredentialsVersitygw(t *testing.T) {
	tests := []struct {
		name          string
		secret, token string
		wantCode      string
	}{
		{"secret", "wrong-secret-Zq8xV3pL0sKe9", "", "SignatureDoesNotMatch"},
		{"token", "wrong-secret-Zq8xV3pL0sKe9", "wrong-session-token-Hy7Rw2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := versityOptions(t)
			opts.SecretAccessKey, opts.SessionToken = tt.secret, tt.token
			opts.MaxRetries = 1
			s := newStore(t, opts)
			ctx := t.Context()
			var errs []error
			_, err := s.Get(ctx, "k")
			errs = append(errs, err)
			errs = append(errs, s.Put(ctx, "k", []byte("v")))
			errs = append(errs, s.PutIfAbsent(ctx, "k", []byte("v")))
			errs = append(errs, s.Delete(ctx, "k"))
			errs = append(errs, s.CheckConditionalWrites(ctx))
			for _, err := range s.List(ctx, "") {
				errs = append(errs, err)
				break
			}
			for i, err := range errs {
				if err == nil {
					t.Errorf("call %d with wrong credentials succeeded", i)
					continue
				}
				msg := err.Error()
				if strings.Contains(msg, tt.secret) || (tt.token != "" && strings.Contains(msg, tt.token)) {
					t.Errorf("call %d: error text contains a secret: %s", i, msg)
				}
				if !strings.Contains(msg, tt.wantCode) {
					t.Errorf("call %d: error %q does not name %s", i, msg, tt.wantCode)
				}
				if errors.Is(err, blob.ErrNotExist) || errors.Is(err, blob.ErrExist) {
					t.Errorf("call %d: auth failure %v is reported as a blob sentinel", i, err)
				}
			}
		})
	}
}

// A server that echoes the secret in its error message (none we know does)
// must not get it into our error text.
func TestSecretRedactedFromServerMessages(t *testing.T) {
	const secret = "echoed-secret-9fQ2"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>bad key ` + secret + `</Message></Error>`))
	}))
	t.Cleanup(srv.Close)
	opts := fakeOptions(srv.URL)
	opts.SecretAccessKey = secret
	s := newStore(t, opts)
	err := s.Put(t.Context(), "k", []byte("v"))
	if err == nil {
		t.Fatal("Put succeeded against a server answering 403")
	}
	if msg := err.Error(); strings.Contains(msg, secret) || !strings.Contains(msg, "[REDACTED]") {
		t.Fatalf("error text %q: want the secret replaced by [REDACTED]", msg)
	}
}

// TestAmbiguousRetryResolved runs PutIfAbsent against a server that stores
// the object but answers 503 to the first conditional PUT: the retry gets
// 412, reads back identical bytes and reports success; a different
// payload would have been ErrExist.
func TestAmbiguousRetryResolved(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("test"); err != nil {
		t.Fatal(err)
	}
	fake := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	var failNext atomic.Bool
	failNext.Store(true)
	srv := httptest.NewServer(&lossyPut{next: fake, failNext: &failNext})
	t.Cleanup(srv.Close)
	s := newStore(t, fakeOptions(srv.URL))
	ctx := t.Context()
	if err := s.PutIfAbsent(ctx, "_delta_log/00000000000000000000.json", []byte("ours")); err != nil {
		t.Fatalf("PutIfAbsent after an ambiguous 503: %v", err)
	}
	failNext.Store(true)
	err := s.PutIfAbsent(ctx, "_delta_log/00000000000000000000.json", []byte("different"))
	if !errors.Is(err, blob.ErrExist) {
		t.Fatalf("PutIfAbsent of different bytes = %v, want ErrExist", err)
	}
	rc, err := s.Get(ctx, "_delta_log/00000000000000000000.json")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(rc)
	if buf.String() != "ours" {
		t.Fatalf("stored %q, want %q", buf.String(), "ours")
	}
}

func list(t *testing.T, s blob.Store, prefix string) []blob.Object {
	t.Helper()
	var objs []blob.Object
	for o, err := range s.List(context.WithoutCancel(t.Context()), prefix) {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		objs = append(objs, o)
	}
	return objs
}
