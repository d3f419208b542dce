package jobs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/sluicehq/sluice/capture"
	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/lakelog"
	"github.com/sluicehq/sluice/lakelog/blob"
	"github.com/sluicehq/sluice/merge"
)

// This file maps Config onto the parts' own configs. Secrets are revealed
// here and nowhere else: the result goes straight to a client library.

// readSecretFile reads a *_file secret, without its trailing newline. The
// error names the file, never its contents.
func readSecretFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// secretValue returns the secret given inline or, when empty, read from file.
func secretValue(s Secret, file, field string) (string, error) {
	if s != "" {
		return s.Reveal(), nil
	}
	v, err := readSecretFile(file)
	if err != nil {
		return "", UsageError(&FieldError{field + "_file", err.Error()})
	}
	return v, nil
}

// captureKafka maps kafka: onto capture.KafkaConfig.
func captureKafka(k KafkaConfig) (capture.KafkaConfig, error) {
	pw, err := secretValue(k.SASL.Password, k.SASL.PasswordFile, "kafka.sasl.password")
	if err != nil {
		return capture.KafkaConfig{}, err
	}
	return capture.KafkaConfig{
		Brokers:               k.Brokers,
		ClientID:              "sluice",
		TLS:                   k.TLS.Enabled,
		TLSCAFile:             k.TLS.CAFile,
		TLSCertFile:           k.TLS.CertFile,
		TLSKeyFile:            k.TLS.KeyFile,
		TLSInsecureSkipVerify: k.TLS.InsecureSkipVerify,
		SASLMechanism:         k.SASL.Mechanism,
		SASLUser:              k.SASL.Username,
		SASLPassword:          pw,
	}, nil
}

// ingestKafka maps kafka: onto ingest.KafkaAuth (TLS as a *tls.Config).
func ingestKafka(k KafkaConfig) (ingest.KafkaAuth, error) {
	pw, err := secretValue(k.SASL.Password, k.SASL.PasswordFile, "kafka.sasl.password")
	if err != nil {
		return ingest.KafkaAuth{}, err
	}
	auth := ingest.KafkaAuth{SASLMechanism: k.SASL.Mechanism, SASLUser: k.SASL.Username, SASLPassword: pw}
	if k.TLS.Enabled || k.TLS.CAFile != "" || k.TLS.CertFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: k.TLS.InsecureSkipVerify}
		if k.TLS.CAFile != "" {
			pem, err := os.ReadFile(k.TLS.CAFile)
			if err != nil {
				return auth, UsageError(&FieldError{"kafka.tls.ca_file", err.Error()})
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return auth, UsageError(&FieldError{"kafka.tls.ca_file", "no PEM certificates in " + k.TLS.CAFile})
			}
			tc.RootCAs = pool
		}
		if k.TLS.CertFile != "" || k.TLS.KeyFile != "" {
			cert, err := tls.LoadX509KeyPair(k.TLS.CertFile, k.TLS.KeyFile)
			if err != nil {
				return auth, UsageError(&FieldError{"kafka.tls.cert_file", "load client certificate: " + err.Error()})
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		auth.TLS = tc
	}
	return auth, nil
}

// positionsExclude keeps capture's own positions topics
// (<prefix>.sluice.positions) out of the raw table: they hold source
// positions, not change events, and would all be dead letters.
const positionsExclude = `[^.]+\.sluice\.positions`

// ingestConfig maps the config onto ingest.Config.
func ingestConfig(cfg *Config) (ingest.Config, error) {
	if len(cfg.Kafka.Brokers) == 0 {
		return ingest.Config{}, UsageError(&FieldError{"kafka.brokers", "required for ingest"})
	}
	auth, err := ingestKafka(cfg.Kafka)
	if err != nil {
		return ingest.Config{}, err
	}
	exclude := positionsExclude
	if cfg.Ingest.Exclude != "" {
		exclude = "(?:" + cfg.Ingest.Exclude + ")|" + positionsExclude
	}
	return ingest.Config{
		Brokers:            cfg.Kafka.Brokers,
		Kafka:              auth,
		TopicRegex:         cfg.Ingest.Topics,
		ExcludeRegex:       exclude,
		IncludeHeartbeats:  cfg.Ingest.IncludeHeartbeats,
		GroupID:            cfg.Ingest.GroupID,
		TargetFileBytes:    int64(cfg.Ingest.TargetFileMB) << 20,
		MaxBatchAge:        cfg.Ingest.MaxBatchAge,
		DeadLetterTable:    cfg.Raw.DeadLetterTable,
		MaxDeadLetterRatio: cfg.Ingest.MaxDeadLetterRatio,
		OnOffsetReset:      cfg.Ingest.OnOffsetReset,
		MaxBufferBytes:     int64(cfg.Ingest.MaxBufferMB) << 20,
		FetchMaxBytes:      int64(cfg.Ingest.FetchMaxMB) << 20,
		Worker:             cfg.Ingest.Worker,
		Workers:            cfg.Ingest.Workers,
	}, nil
}

// mergeConfig maps merge: onto merge.Config; only restricts the run to
// those source tables.
func mergeConfig(cfg *Config, only []string) merge.Config {
	mc := merge.Config{
		TablesRoot:         cfg.Merge.TablesRoot,
		DeleteMode:         cfg.Merge.DeleteMode,
		TombstoneRetention: cfg.Merge.TombstoneRetention,
		TargetFileRows:     cfg.Merge.TargetFileRows,
		MaxPassBytes:       int64(cfg.Merge.MaxPassMB) << 20,
		Tables:             map[string]merge.TableConfig{},
		Only:               only,
	}
	for _, t := range cfg.Merge.Tables {
		mc.Tables[t.Source] = merge.TableConfig{Location: t.Location, DeleteMode: t.DeleteMode, Key: t.Key, DeletionVectors: t.DeletionVectors}
	}
	return mc
}

// storeOptions maps s3: onto StoreOptions.
func storeOptions(cfg *Config, logger *slog.Logger) (StoreOptions, error) {
	secret, err := secretValue(cfg.S3.SecretAccessKey, cfg.S3.SecretAccessKeyFile, "s3.secret_access_key")
	if err != nil {
		return StoreOptions{}, err
	}
	return StoreOptions{
		S3Endpoint:        cfg.S3.Endpoint,
		S3Region:          cfg.S3.Region,
		S3PathStyle:       cfg.S3.PathStyle,
		S3AccessKeyID:     cfg.S3.AccessKeyID,
		S3SecretAccessKey: secret,
		Logger:            logger,
	}, nil
}

// lake is the opened warehouse: its store and the raw and dead-letter tables.
type lake struct {
	warehouse   blob.Store
	raw         *lakelog.Table
	deadLetters *lakelog.Table
}

// openLake opens the warehouse and the raw tables. Table locations are
// relative to the warehouse unless they are URLs.
func openLake(ctx context.Context, cfg *Config, logger *slog.Logger) (*lake, error) {
	opts, err := storeOptions(cfg, logger)
	if err != nil {
		return nil, err
	}
	wh, err := OpenStore(ctx, cfg.Warehouse, opts)
	if err != nil {
		return nil, UsageError(fmt.Errorf("warehouse: %w", err))
	}
	sub := func(loc string) (blob.Store, error) {
		if strings.Contains(loc, "://") {
			return OpenStore(ctx, loc, opts)
		}
		return blob.Sub(wh, strings.Trim(loc, "/")), nil
	}
	rawStore, err := sub(cfg.Raw.Table)
	if err != nil {
		return nil, UsageError(fmt.Errorf("raw.table: %w", err))
	}
	dlStore, err := sub(cfg.Raw.DeadLetterTable)
	if err != nil {
		return nil, UsageError(fmt.Errorf("raw.dead_letter_table: %w", err))
	}
	topts := lakelog.Options{Logger: logger}
	return &lake{warehouse: wh, raw: lakelog.Open(rawStore, topts), deadLetters: lakelog.Open(dlStore, topts)}, nil
}
