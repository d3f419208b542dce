package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func lookupFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseConfigExpandsEnvAndDefaults(t *testing.T) {
	const text = `
warehouse: ${WH}
kafka:
  brokers: ["127.0.0.1:9092"]
sources:
  - name: app
    type: postgres
    dsn: ${PG_DSN}
  - name: shop
    type: mariadb
    addr: 127.0.0.1:3306
    user: cdc
    password: ${MYSQL_PW:-fallback}
    server_id: 77
`
	cfg, err := ParseConfig([]byte(text), lookupFrom(map[string]string{"WH": "/tmp/lake", "PG_DSN": "postgres://u:hunter2@h/db"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Warehouse != "/tmp/lake" {
		t.Errorf("warehouse = %q", cfg.Warehouse)
	}
	if got := cfg.Sources[0].DSN.Reveal(); got != "postgres://u:hunter2@h/db" {
		t.Errorf("dsn = %q", got)
	}
	if got := cfg.Sources[1].Password.Reveal(); got != "fallback" {
		t.Errorf("password default = %q", got)
	}
	if cfg.Sources[0].Slot != "sluice_app" || cfg.Raw.Table != "raw/cdc" || cfg.Ingest.OnOffsetReset != "fail" {
		t.Errorf("defaults not applied: slot=%q raw=%q reset=%q", cfg.Sources[0].Slot, cfg.Raw.Table, cfg.Ingest.OnOffsetReset)
	}
}

func TestConfigSecretsNeverPrint(t *testing.T) {
	cfg, err := ParseConfig([]byte("warehouse: /x\nsources: [{name: a, type: postgres, dsn: 'postgres://u:hunter2@h/db'}]\ns3: {secret_access_key: s3cr3tkey}\n"), lookupFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(cfg)
	for _, s := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), string(j)} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "s3cr3tkey") {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func TestParseConfigErrorsNameTheField(t *testing.T) {
	cases := []struct{ text, field string }{
		{"kafka: {brokers: [x]}", "warehouse"},
		{"warehouse: /x\ningest: {topics: '('}", "ingest.topics"},
		{"warehouse: /x\ningest: {max_dead_letter_ratio: 2}", "ingest.max_dead_letter_ratio"},
		{"warehouse: /x\nmerge: {delete_mode: maybe}", "merge.delete_mode"},
		{"warehouse: /x\nkafka: {brokers: [nohost]}", "kafka.brokers[0]"},
		{"warehouse: /x\nsources: [{name: a, type: postgres}]", "sources[0].dsn"},
		{"warehouse: /x\nsources: [{name: a, type: oracle}]", "sources[0].type"},
		{"warehouse: /x\nsources: [{name: a, type: mysql, addr: 'h:1', user: u}]", "sources[0].server_id"},
		{"warehouse: /x\nsources: [{name: a, type: postgres, dsn: d}, {name: a, type: postgres, dsn: d}]", "sources[1].name"},
		{"warehouse: /x\nlog: {format: xml}", "log.format"},
	}
	for _, c := range cases {
		_, err := ParseConfig([]byte(c.text), lookupFrom(nil))
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%q: err = %v, want a FieldError for %s", c.text, err, c.field)
			continue
		}
		if fe.Field != c.field {
			t.Errorf("%q: field = %s, want %s (%v)", c.text, fe.Field, c.field, err)
		}
	}
}

func TestParseConfigRejectsUnknownFieldsAndMissingEnv(t *testing.T) {
	if _, err := ParseConfig([]byte("warehouse: /x\nwarehose: typo\n"), lookupFrom(nil)); err == nil || !strings.Contains(err.Error(), "warehose") {
		t.Errorf("unknown field: err = %v, want it named", err)
	}
	_, err := ParseConfig([]byte("warehouse: ${NOPE_NOT_SET}\n"), lookupFrom(nil))
	if err == nil || !strings.Contains(err.Error(), "NOPE_NOT_SET") {
		t.Errorf("missing env: err = %v, want it named", err)
	}
}
