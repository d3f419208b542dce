package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/lakelog/blob/fileblob"
	"github.com/sluicehq/sluice/lakelog/blob/memblob"
	"github.com/sluicehq/sluice/lakelog/blob/s3blob"
)

// StoreOptions configures the S3 backend of OpenStore; the other backends
// ignore it. Zero values defer to the AWS SDK's configuration: region from
// AWS_REGION or the shared config, endpoint from AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL, credentials from the default chain.
type StoreOptions struct {
	S3Endpoint        string // http://127.0.0.1:7070 for versitygw/MinIO
	S3Region          string
	S3PathStyle       bool // bucket in the path; needed by most S3-compatible servers
	S3AccessKeyID     string
	S3SecretAccessKey string
	Logger            *slog.Logger
}

// OpenStore opens the object store rawURL names. It is the one place that
// chooses a backend:
//
//	file:///abs/dir, /abs/dir, rel/dir  a local directory (fileblob), created if missing
//	s3://bucket/prefix                  an S3 bucket and key prefix (s3blob)
//	mem://name                          a process-wide in-memory store (memblob); the
//	                                    same name returns the same store
//
// Credentials never belong in the URL: a URL with user info is refused, and
// errors never repeat the user info of any URL.
func OpenStore(ctx context.Context, rawURL string, opts StoreOptions) (blob.Store, error) {
	if rawURL == "" {
		return nil, errors.New("open store: empty URL")
	}
	if !strings.Contains(rawURL, "://") {
		s, err := fileblob.New(rawURL)
		if err != nil {
			return nil, fmt.Errorf("open store %q: %w", rawURL, err)
		}
		return s, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the raw URL, user info included: don't wrap it.
		return nil, fmt.Errorf("open store: cannot parse the %q URL (not shown: it may hold credentials)", schemeOf(rawURL))
	}
	shown := redactURL(u)
	switch u.Scheme {
	case "file":
		if err := checkPlainURL(u, shown); err != nil {
			return nil, err
		}
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("open store %s: file URLs take an absolute path (file:///abs/dir), not host %q", shown, u.Host)
		}
		s, err := fileblob.New(u.Path)
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", shown, err)
		}
		return s, nil
	case "s3":
		if err := checkPlainURL(u, shown); err != nil {
			return nil, err
		}
		if u.Host == "" {
			return nil, fmt.Errorf("open store %s: missing bucket (s3://bucket/prefix)", shown)
		}
		s, err := s3blob.New(ctx, s3blob.Options{
			Bucket:          u.Host,
			Prefix:          strings.TrimPrefix(u.Path, "/"),
			Region:          opts.S3Region,
			Endpoint:        opts.S3Endpoint,
			PathStyle:       opts.S3PathStyle,
			AccessKeyID:     opts.S3AccessKeyID,
			SecretAccessKey: opts.S3SecretAccessKey,
			Logger:          opts.Logger,
		})
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", shown, err)
		}
		return s, nil
	case "mem":
		if err := checkPlainURL(u, shown); err != nil {
			return nil, err
		}
		name := u.Host + u.Path
		if name == "" {
			return nil, fmt.Errorf("open store %s: missing name (mem://name)", shown)
		}
		return memStore(name), nil
	default:
		return nil, fmt.Errorf("open store %s: unsupported scheme %q (want file, s3 or mem)", shown, u.Scheme)
	}
}

// checkPlainURL refuses user info (credentials belong in options or the
// credential chain, not in URLs that end up in logs) and query parameters
// (none are defined; silently ignoring one would hide a typo).
func checkPlainURL(u *url.URL, shown string) error {
	if u.User != nil {
		return fmt.Errorf("open store %s: credentials in the URL are not accepted; use the store options or the AWS credential chain", shown)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("open store %s: query parameters and fragments are not supported", shown)
	}
	return nil
}

// memStores holds the named in-memory stores of the process, so that the
// embedded demo's stages (and tests) opening "mem://x" share one store.
var memStores struct {
	sync.Mutex
	m map[string]*memblob.Store
}

func memStore(name string) *memblob.Store {
	memStores.Lock()
	defer memStores.Unlock()
	if memStores.m == nil {
		memStores.m = make(map[string]*memblob.Store)
	}
	s, ok := memStores.m[name]
	if !ok {
		s = memblob.New()
		memStores.m[name] = s
	}
	return s
}

// redactURL renders u without its user info.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// schemeOf returns the text before "://" if it looks like a scheme.
func schemeOf(raw string) string {
	scheme, _, _ := strings.Cut(raw, "://")
	for _, r := range scheme {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return "?"
		}
	}
	return scheme
}
