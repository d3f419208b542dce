package jobs

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestLoggerFormatsAndLevels(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(LogConfig{Format: "json", Level: "warn"}, &buf)
	l.Info("hidden")
	l.Warn("shown", "password", Secret("hunter2-marker"))
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) {
		t.Errorf("json/warn logger wrote %q", out)
	}
	if strings.Contains(out, "hunter2-marker") || !strings.Contains(out, "<redacted>") {
		t.Errorf("secret attribute not redacted: %q", out)
	}
	buf.Reset()
	NewLogger(LogConfig{Format: "text", Level: "debug"}, &buf).Debug("dbg")
	if !strings.Contains(buf.String(), "level=DEBUG msg=dbg") {
		t.Errorf("text/debug logger wrote %q", buf.String())
	}
}

func TestSecretsAndRedaction(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
warehouse: /x
s3: {secret_access_key: s3-marker-key}
kafka: {brokers: ['a:1'], sasl: {mechanism: PLAIN, username: u, password: kafka-marker}}
sources:
  - {name: a, type: postgres, dsn: 'postgres://u:pg%40marker@h:5432/db'}
  - {name: b, type: postgres, dsn: 'host=h user=u password=kv-marker dbname=d'}
  - {name: c, type: mysql, addr: 'h:3306', user: u, password: my-marker, server_id: 9}
`), lookupFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	secrets := cfg.Secrets()
	var buf bytes.Buffer
	w := NewRedactor(&buf, secrets)
	// The decoded form of the URL password is "pg@marker"; the raw one "pg%40marker".
	msg := "dial postgres://u:pg%40marker@h:5432/db; auth pg@marker kv-marker my-marker kafka-marker s3-marker-key\n"
	fmt.Fprint(w, msg)
	for _, m := range []string{"pg%40marker", "pg@marker", "kv-marker", "my-marker", "kafka-marker", "s3-marker-key"} {
		if strings.Contains(buf.String(), m) {
			t.Errorf("redactor let %q through: %q", m, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "dial <redacted>; auth <redacted>") {
		t.Errorf("redactor output %q", buf.String())
	}
	base := fmt.Errorf("connect: %w", errors.New("password kv-marker rejected"))
	red := RedactError(base, secrets)
	if strings.Contains(red.Error(), "kv-marker") || !errors.Is(red, base) {
		t.Errorf("RedactError = %q (unwraps to the original: %v)", red, errors.Is(red, base))
	}
}
