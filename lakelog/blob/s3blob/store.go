package s3blob

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluicehq/sluice/lakelog/blob"
)

var (
	_ blob.Store    = (*Store)(nil)
	_ blob.Stat     = (*Store)(nil)
	_ blob.ListFrom = (*Store)(nil)
)

// defaultAttempts bounds every request's attempts (first try plus retries)
// when Options.MaxRetries is zero.
const defaultAttempts = 5

// Options configures New.
type Options struct {
	Bucket string // required
	// Prefix is prepended to every key ("warehouse/"); a trailing slash is
	// added if missing. Empty means the bucket root.
	Prefix string
	// Region defaults to the SDK's configuration (AWS_REGION, shared
	// config), then to us-east-1, which S3-compatible servers accept.
	Region string
	// Endpoint overrides the S3 endpoint (http://127.0.0.1:7070 for
	// versitygw or MinIO). Empty means AWS, or AWS_ENDPOINT_URL_S3 /
	// AWS_ENDPOINT_URL if set, as the SDK resolves them.
	Endpoint string
	// PathStyle addresses buckets as endpoint/bucket/key instead of
	// bucket.endpoint/key; most S3-compatible servers need it.
	PathStyle bool
	// AccessKeyID, SecretAccessKey and SessionToken are static credentials.
	// If AccessKeyID is empty the SDK's default credential chain is used.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// MaxRetries is the number of retries after a first failed attempt; 0
	// means 4.
	MaxRetries int
	// Logger receives retry and ambiguity decisions; nil discards them.
	Logger *slog.Logger
}

// Store is a blob.Store over one S3 bucket and prefix. It is safe for
// concurrent use.
type Store struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or ends with "/"
	attempts int
	logger   *slog.Logger
	secrets  []string // redacted from error texts
}

// New returns a Store configured by opts. It resolves configuration and
// credentials providers but makes no request; see CheckConditionalWrites.
func New(ctx context.Context, opts Options) (*Store, error) {
	if opts.Bucket == "" {
		return nil, errors.New("s3 store: bucket is required")
	}
	attempts := defaultAttempts
	if opts.MaxRetries > 0 {
		attempts = opts.MaxRetries + 1
	}
	load := []func(*config.LoadOptions) error{config.WithRetryMaxAttempts(attempts)}
	if opts.Region != "" {
		load = append(load, config.WithRegion(opts.Region))
	}
	if opts.AccessKeyID != "" {
		load = append(load, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("s3 store: load aws config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.UsePathStyle = opts.PathStyle
	})
	s, err := newStore(client, opts.Bucket, opts.Prefix)
	if err != nil {
		return nil, err
	}
	s.attempts = attempts
	if opts.Logger != nil {
		s.logger = opts.Logger
	}
	for _, secret := range []string{opts.SecretAccessKey, opts.SessionToken} {
		if secret != "" {
			s.secrets = append(s.secrets, secret)
		}
	}
	return s, nil
}

// NewFromClient returns a Store using an already configured client, for
// callers (and tests) that build their own.
func NewFromClient(client *s3.Client, bucket, prefix string) (*Store, error) {
	if client == nil || bucket == "" {
		return nil, errors.New("s3 store: client and bucket are required")
	}
	return newStore(client, bucket, prefix)
}

func newStore(client *s3.Client, bucket, prefix string) (*Store, error) {
	prefix = strings.TrimPrefix(prefix, "/")
	if prefix != "" {
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		if err := blob.ValidateKey(strings.TrimSuffix(prefix, "/")); err != nil {
			return nil, fmt.Errorf("s3 store: prefix: %w", err)
		}
	}
	return &Store{
		client:   client,
		bucket:   bucket,
		prefix:   prefix,
		attempts: defaultAttempts,
		logger:   slog.New(slog.DiscardHandler),
	}, nil
}

// Bucket returns the bucket name and Prefix the key prefix ("" or ending in
// "/"), for log lines and reports.
func (s *Store) Bucket() string { return s.bucket }

// Prefix returns the key prefix the store prepends ("" or ending in "/").
func (s *Store) Prefix() string { return s.prefix }

// Get opens the object at key. It returns an error wrapping
// blob.ErrNotExist if there is none.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := blob.ValidateKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	return out.Body, nil
}

// Stat returns the object's metadata (HeadObject), or an error wrapping
// blob.ErrNotExist.
func (s *Store) Stat(ctx context.Context, key string) (blob.Object, error) {
	if err := blob.ValidateKey(key); err != nil {
		return blob.Object{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err != nil {
		return blob.Object{}, s.wrap("stat", key, err)
	}
	return blob.Object{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Put stores data at key, replacing any object (one PutObject; S3 makes
// it visible atomically).
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	if err := blob.ValidateKey(key); err != nil {
		return err
	}
	if err := s.putObject(ctx, key, data, false); err != nil {
		return s.wrap("put", key, err)
	}
	return nil
}

// PutIfAbsent stores data at key only if no object exists there, using
// If-None-Match: *. It returns an error wrapping blob.ErrExist if the key
// exists. See the package documentation for how retries and ambiguous
// attempts are resolved.
func (s *Store) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := blob.ValidateKey(key); err != nil {
		return err
	}
	mayHaveWritten := false // an earlier attempt may have stored data
	var err error
	for attempt := 1; ; attempt++ {
		err = s.putObject(ctx, key, data, true)
		switch {
		case err == nil:
			return nil
		case statusCode(err) == 412:
			if mayHaveWritten {
				return s.resolveAmbiguous(ctx, key, data, err)
			}
			return s.wrap("put if absent", key, err)
		case statusCode(err) == 409:
			// ConditionalRequestConflict: a conflicting conditional write
			// is in flight; ours did not happen. Retry to learn the outcome.
		case isRetryable(err):
			mayHaveWritten = true
		default:
			return s.wrap("put if absent", key, err)
		}
		if attempt >= s.attempts {
			break
		}
		d := backoff(attempt)
		s.logger.Debug("s3 put if absent: retrying", "bucket", s.bucket, "key", s.prefix+key,
			"attempt", attempt, "delay", d, "err", s.redact(err.Error()))
		if serr := sleep(ctx, d); serr != nil {
			return s.wrap("put if absent", key, errors.Join(serr, err))
		}
	}
	return s.wrap("put if absent", key, fmt.Errorf("gave up after %d attempts: %w", s.attempts, err))
}

// resolveAmbiguous decides a 412 that follows an attempt which may itself
// have written the object: if the stored bytes are exactly data, that
// attempt (or a writer of identical bytes) stored them and the call
// succeeds; otherwise another writer won.
func (s *Store) resolveAmbiguous(ctx context.Context, key string, data []byte, refused error) error {
	rc, err := s.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("put if absent %q: resolve ambiguous retry: %w", key, err)
	}
	stored, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("put if absent %q: resolve ambiguous retry: %w", key, s.classify(err))
	}
	if bytes.Equal(stored, data) {
		s.logger.Info("s3 put if absent: retry found our own write", "bucket", s.bucket, "key", s.prefix+key)
		return nil
	}
	return s.wrap("put if absent", key, refused)
}

func (s *Store) putObject(ctx context.Context, key string, data []byte, ifAbsent bool) error {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.prefix + key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if !ifAbsent {
		_, err := s.client.PutObject(ctx, in)
		return err
	}
	in.IfNoneMatch = aws.String("*")
	// One attempt per call: PutIfAbsent's loop must see every failure to
	// know whether an earlier attempt may have written the object.
	_, err := s.client.PutObject(ctx, in, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	return err
}

// Delete removes the object at key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.ValidateKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err := s.wrap("delete", key, err); err != nil && !errors.Is(err, blob.ErrNotExist) {
		return err
	}
	return nil
}

// List yields the objects whose key starts with prefix, in ascending key
// order (S3 lists in UTF-8 binary order), keys relative to the store.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[blob.Object, error] {
	return s.ListFrom(ctx, prefix, "")
}

// ListFrom is List restricted to keys >= start, using StartAfter so that
// earlier keys are not transferred.
func (s *Store) ListFrom(ctx context.Context, prefix, start string) iter.Seq2[blob.Object, error] {
	return func(yield func(blob.Object, error) bool) {
		if err := blob.ValidatePrefix(prefix); err != nil {
			yield(blob.Object{}, err)
			return
		}
		in := &s3.ListObjectsV2Input{
			Bucket: aws.String(s.bucket),
			Prefix: aws.String(s.prefix + prefix),
		}
		if start > prefix {
			// StartAfter is exclusive; start minus its last byte sorts
			// before start and after every key below it except a few that
			// share all but the last byte, filtered out below.
			in.StartAfter = aws.String(s.prefix + start[:len(start)-1])
		}
		p := s3.NewListObjectsV2Paginator(s.client, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(blob.Object{}, s.wrap("list", prefix, err))
				return
			}
			for _, o := range page.Contents {
				key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
				if key < start {
					continue
				}
				obj := blob.Object{Key: key, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}
				if !yield(obj, nil) {
					return
				}
			}
		}
	}
}

// CheckConditionalWrites verifies that the backend honours If-None-Match:
// it writes a probe object under the store's prefix twice and fails unless
// the second write is refused with 412. The probe is deleted afterwards.
// Call it before committing to a table on an unfamiliar S3-compatible
// service.
func (s *Store) CheckConditionalWrites(ctx context.Context) error {
	var b [8]byte
	_, _ = cryptorand.Read(b[:])
	key := ".sluice-probe-" + hex.EncodeToString(b[:])
	defer func() {
		_ = s.Delete(context.WithoutCancel(ctx), key)
	}()
	if err := s.putObject(ctx, key, []byte("first"), true); err != nil {
		return fmt.Errorf("check conditional writes: first probe write: %w", s.classify(err))
	}
	err := s.putObject(ctx, key, []byte("second"), true)
	switch {
	case err == nil:
		return fmt.Errorf("check conditional writes: s3://%s/%s ignores If-None-Match (a second conditional PutObject on %q succeeded); this backend cannot hold Delta commits safely", s.bucket, s.prefix, key)
	case statusCode(err) == 412:
		return nil
	default:
		return fmt.Errorf("check conditional writes: second probe write: want 412 Precondition Failed, got: %w", s.classify(err))
	}
}

// backoff returns the delay before attempt+1: exponential from 50ms with
// full jitter, capped at 2s.
func backoff(attempt int) time.Duration {
	d := 50 * time.Millisecond << min(attempt-1, 6)
	d = min(d, 2*time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
