package ingest

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// slogKafka adapts a *slog.Logger to kgo.Logger. Only warnings and errors
// pass: kgo's info level logs every connection.
type slogKafka struct{ l *slog.Logger }

func kslogger(l *slog.Logger) kgo.Logger {
	if l == nil {
		return kgo.BasicLogger(nil, kgo.LogLevelNone, nil)
	}
	return slogKafka{l.With("component", "kafka")}
}

func (s slogKafka) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (s slogKafka) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelWarn
	if level == kgo.LogLevelError {
		lvl = slog.LevelError
	}
	s.l.Log(context.Background(), lvl, msg, keyvals...)
}
