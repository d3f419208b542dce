package capture

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// KafkaConfig says how to reach a Kafka (or Redpanda, or kfake) cluster.
// The same fields work for every cluster: nothing is specific to kfake.
type KafkaConfig struct {
	Brokers  []string
	ClientID string // default "sluice"

	// TLS is enabled when TLS is true or any TLS file is set.
	TLS                   bool
	TLSCAFile             string // PEM; default: system roots
	TLSCertFile           string // PEM client certificate (mTLS)
	TLSKeyFile            string
	TLSServerName         string
	TLSInsecureSkipVerify bool

	// SASLMechanism is "", "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	SASLMechanism string
	SASLUser      string
	// SASLPassword is a secret: never logged (see LogValue).
	SASLPassword string
}

// LogValue keeps the password out of logs.
func (k KafkaConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("brokers", strings.Join(k.Brokers, ",")),
		slog.Bool("tls", k.tlsEnabled()),
		slog.String("sasl", k.SASLMechanism),
		slog.String("sasl_user", k.SASLUser),
	)
}

func (k KafkaConfig) tlsEnabled() bool {
	return k.TLS || k.TLSCAFile != "" || k.TLSCertFile != ""
}

// clientOpts returns the franz-go options for connecting and authenticating.
func (k KafkaConfig) clientOpts(logger *slog.Logger) ([]kgo.Opt, error) {
	if len(k.Brokers) == 0 {
		return nil, fmt.Errorf("kafka config: no brokers")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	id := k.ClientID
	if id == "" {
		id = "sluice"
	}
	opts := []kgo.Opt{kgo.SeedBrokers(k.Brokers...), kgo.ClientID(id), kgo.WithLogger(kgoLogger{logger})}
	if k.tlsEnabled() {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: k.TLSServerName, InsecureSkipVerify: k.TLSInsecureSkipVerify} //nolint:gosec // opt-in
		if k.TLSCAFile != "" {
			pem, err := os.ReadFile(k.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("kafka config: tls ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kafka config: tls ca %s: no certificates", k.TLSCAFile)
			}
			tc.RootCAs = pool
		}
		if k.TLSCertFile != "" || k.TLSKeyFile != "" {
			cert, err := tls.LoadX509KeyPair(k.TLSCertFile, k.TLSKeyFile)
			if err != nil {
				return nil, fmt.Errorf("kafka config: tls client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.Dialer((&tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: tc}).DialContext))
	}
	switch strings.ToUpper(k.SASLMechanism) {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: k.SASLUser, Pass: k.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: k.SASLUser, Pass: k.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: k.SASLUser, Pass: k.SASLPassword}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("kafka config: unknown SASL mechanism %q", k.SASLMechanism)
	}
	return opts, nil
}

// kgoLogger adapts slog to franz-go's logger; franz-go logs at debug level
// are chatty, so they are dropped unless the handler wants debug.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	if k.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelWarn
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	var l slog.Level
	switch level {
	case kgo.LogLevelError:
		l = slog.LevelError
	case kgo.LogLevelWarn:
		l = slog.LevelWarn
	case kgo.LogLevelInfo:
		l = slog.LevelInfo
	default:
		l = slog.LevelDebug
	}
	k.l.Log(context.Background(), l, "kafka: "+msg, keyvals...)
}
