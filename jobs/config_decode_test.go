package jobs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ${NAME} in comments is text, not a reference: an unset variable there
// must not fail the load. In values it is expanded, typed as if written
// there when plain, kept a string when quoted, and never parsed as YAML.
func TestConfigExpandsValuesNotComments(t *testing.T) {
	const text = `
# ${NOT_SET_ANYWHERE} is how variables are written
warehouse: ${WH}   # ${ALSO_NOT_SET}
kafka:
  brokers: ["${BROKER}:9092"]
  sasl:
    mechanism: PLAIN
    # password: ${COMMENTED_OUT_PASSWORD}
    password: "p#ss ${PW}"
ingest:
  target_file_mb: ${MB}
  topics: '${TOPICS:-shop\..*}'
s3: {secret_access_key: ${PW}}   # flow style: "${PW}}" parses as before
sources:
  - name: app
    type: postgres
    dsn: ${DSN}
`
	env := map[string]string{
		"WH":     "/tmp/lake",
		"BROKER": "kafka-1",
		"PW":     "s3cr3t",
		"MB":     "64",
		// A value that looks like YAML stays one string.
		"DSN": "postgres://u@h/db\nwarehouse: /elsewhere",
	}
	cfg, err := ParseConfig([]byte(text), lookupFrom(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Warehouse != "/tmp/lake" {
		t.Errorf("warehouse = %q, want /tmp/lake", cfg.Warehouse)
	}
	if got := cfg.Kafka.Brokers; len(got) != 1 || got[0] != "kafka-1:9092" {
		t.Errorf("brokers = %q, want [kafka-1:9092]", got)
	}
	if got := cfg.Kafka.SASL.Password.Reveal(); got != "p#ss s3cr3t" {
		t.Errorf("password = %q, want %q", got, "p#ss s3cr3t")
	}
	if got := cfg.S3.SecretAccessKey.Reveal(); got != "s3cr3t" {
		t.Errorf("flow-style secret = %q, want s3cr3t", got)
	}
	if cfg.Ingest.TargetFileMB != 64 {
		t.Errorf("target_file_mb = %d, want 64", cfg.Ingest.TargetFileMB)
	}
	if cfg.Ingest.Topics != `shop\..*` {
		t.Errorf("topics = %q, want the default shop\\..*", cfg.Ingest.Topics)
	}
	if got := cfg.Sources[0].DSN.Reveal(); got != env["DSN"] {
		t.Errorf("dsn = %q, want the variable verbatim", got)
	}
}

func TestConfigDecodeErrorsNameTheField(t *testing.T) {
	cases := []struct {
		text, field string
		want        []string // in the message
	}{
		{"warehouse: /x\nsources: [{name: a, type: postgres, dsn: '${NOPE_DSN}'}]\n", "sources[0].dsn", []string{"NOPE_DSN", "not set"}},
		{"warehouse: ${NOPE_WH}\n", "warehouse", []string{"NOPE_WH"}},
		{"warehouse: /x\nkafka:\n  tls:\n    enabeld: true\n", "kafka.tls.enabeld", []string{"unknown key", "line 4"}},
		{"warehouse: /x\nschedule:\n  jobs:\n    - {name: run, cron: '@hourly', timout: 1m}\n", "schedule.jobs[0].timout", []string{"unknown key", "line 4"}},
		{"warehose: /x\n", "warehose", []string{"unknown key", "line 1"}},
	}
	for _, c := range cases {
		_, err := ParseConfig([]byte(c.text), lookupFrom(nil))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%q: err = %v, want a FieldError for %s", c.text, err, c.field)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: err = %q, want it to mention %q", c.text, err, w)
			}
		}
	}
	// Type errors keep the file's own line numbers (comments included).
	_, err := ParseConfig([]byte("warehouse: /x\n\n# a comment\ningest:\n  target_file_mb: lots\n"), lookupFrom(nil))
	if err == nil || !strings.Contains(err.Error(), "line 5") {
		t.Errorf("type error = %v, want it at line 5", err)
	}
	// An empty file is a config without a warehouse.
	_, err = ParseConfig([]byte("# nothing here\n"), lookupFrom(nil))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "warehouse" {
		t.Errorf("empty config: err = %v, want warehouse required", err)
	}
}

// examples/sluice.yaml loads with only the variables its values reference
// set; the ones in its comments (${NAME}, ${AWS_SECRET_ACCESS_KEY},
// ${BILLING_DB_PASSWORD}) need not be.
func TestExampleConfigLoadsWithItsValueVariablesOnly(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "examples", "sluice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KAFKA_PASSWORD": "kp", "SHOP_PG_DSN": "postgres://sluice:pw@db:5432/shop"}
	cfg, err := ParseConfig(data, lookupFrom(env))
	if err != nil {
		t.Fatalf("examples/sluice.yaml: %v", err)
	}
	if cfg.Kafka.SASL.Password.Reveal() != "kp" || cfg.Sources[0].DSN.Reveal() != env["SHOP_PG_DSN"] {
		t.Errorf("variables not expanded: kafka password %q, dsn %q", cfg.Kafka.SASL.Password.Reveal(), cfg.Sources[0].DSN.Reveal())
	}
	// Each variable referenced by a value is required.
	for name := range env {
		partial := map[string]string{}
		for k, v := range env {
			if k != name {
				partial[k] = v
			}
		}
		if _, err := ParseConfig(data, lookupFrom(partial)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: err = %v, want it named", name, err)
		}
	}
}

// Arbitrary config text never panics the decoder; whatever it accepts has
// no reference left unexpanded in a value.
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		"warehouse: ${WH}\n# ${X}\n",
		"warehouse: /x\ns3: {secret_access_key: ${PW}}\n",
		"warehouse: '${WH:-/d}'\nkafka: {brokers: [\"${B}:1\"]}\n",
		"a: &x ${WH}\nwarehouse: *x\n",
		"${WH}: 1\n",
		"warehouse: |\n  ${WH}\n  # ${NOT}\n",
		"warehouse: __sluice_env_ref_0__\n",
	} {
		f.Add(seed)
	}
	lookup := lookupFrom(map[string]string{"WH": "/lake", "PW": "p", "B": "h"})
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := ParseConfig([]byte(text), lookup)
		if err == nil && strings.Contains(cfg.Warehouse, envPlaceholderPrefix) {
			t.Errorf("warehouse %q holds a placeholder", cfg.Warehouse)
		}
	})
}
