package jobs

import (
	"bytes"
	"io"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// NewLogger returns the logger every job uses: text or JSON lines on w at
// cfg's level. Config Secrets render as <redacted> through their String and
// LogValue methods; for a guarantee that also covers secrets embedded in
// third-party error messages, pass w through NewRedactor first (the command
// line does).
func NewLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: parseLevel(cfg.Level)}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func parseLevel(s string) slog.Level {
	switch s {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// LogValue implements slog.LogValuer, so a Secret logged as an attribute
// shows as <redacted>.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// minSecretLen is the shortest secret NewRedactor masks: shorter strings
// (a one-letter password) would mask unrelated text everywhere and make
// output unreadable, while hiding little.
const minSecretLen = 4

// Secrets returns every secret value of the config, as it will be handed to
// client libraries: Secret fields, the contents of *_file settings, and the
// password parts of DSNs. It is what NewRedactor masks.
func (c *Config) Secrets() []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if len(s) >= minSecretLen {
			out = append(out, s)
		}
	}
	addSecret := func(s Secret, file string) {
		add(s.Reveal())
		if v, err := readSecretFile(file); err == nil {
			add(v)
		}
	}
	addSecret(c.S3.SecretAccessKey, c.S3.SecretAccessKeyFile)
	addSecret(c.Kafka.SASL.Password, c.Kafka.SASL.PasswordFile)
	for _, s := range c.Sources {
		addSecret(s.Password, s.PasswordFile)
		add(s.DSN.Reveal())
		for _, p := range dsnPasswords(s.DSN.Reveal()) {
			add(p)
		}
	}
	// Longest first, so that a DSN is masked whole before its password.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// dsnPasswords extracts the password of a libpq URL or key=value DSN, raw
// and URL-decoded (either form may end up in an error message).
func dsnPasswords(dsn string) []string {
	var out []string
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
		// The raw (still percent-encoded) userinfo password.
		if _, after, ok := strings.Cut(dsn, "://"); ok {
			if ui, _, ok := strings.Cut(after, "@"); ok {
				if _, p, ok := strings.Cut(ui, ":"); ok {
					out = append(out, p)
				}
			}
		}
	}
	for _, f := range strings.Fields(dsn) {
		if k, v, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, "password") {
			out = append(out, strings.Trim(v, `'`))
		}
	}
	return out
}

// redactor masks secrets in everything written through it.
type redactor struct {
	mu      sync.Mutex
	w       io.Writer
	secrets [][]byte
}

// NewRedactor returns a writer that replaces every occurrence of any of
// secrets with <redacted> before writing to w. Each Write is masked on its
// own: loggers and the command line write whole records and messages in one
// call, so a secret is never split across writes. Safe for concurrent use.
func NewRedactor(w io.Writer, secrets []string) io.Writer {
	r := &redactor{w: w}
	for _, s := range secrets {
		if len(s) >= minSecretLen {
			r.secrets = append(r.secrets, []byte(s))
		}
	}
	return r
}

var redacted = []byte("<redacted>")

func (r *redactor) Write(p []byte) (int, error) {
	out := p
	for _, s := range r.secrets {
		if bytes.Contains(out, s) {
			out = bytes.ReplaceAll(out, s, redacted)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// RedactError returns err's message with every secret masked, as an error
// that still unwraps to err (so exit-code classification is unchanged).
func RedactError(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	masked := msg
	for _, s := range secrets {
		if len(s) >= minSecretLen {
			masked = strings.ReplaceAll(masked, s, string(redacted))
		}
	}
	if masked == msg {
		return err
	}
	return &redactedError{msg: masked, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
