// Package k8s holds example Kubernetes manifests (docs/kubernetes.md); this
// test keeps them parseable and keeps the properties the docs rely on.
package k8s

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

type manifest struct {
	APIVersion string         `yaml:"apiVersion"`
	Kind       string         `yaml:"kind"`
	Metadata   map[string]any `yaml:"metadata"`
	Spec       map[string]any `yaml:"spec"`
	Data       map[string]string
}

func load(t *testing.T) map[string]manifest {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	out := map[string]manifest{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(false)
		for i := 0; ; i++ {
			var m manifest
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			name, _ := m.Metadata["name"].(string)
			if m.APIVersion == "" || m.Kind == "" || name == "" {
				t.Errorf("%s document %d: apiVersion %q kind %q name %q: want all three", f, i, m.APIVersion, m.Kind, name)
			}
			out[m.Kind+"/"+name] = m
		}
	}
	return out
}

// dig follows map keys; "" when a key is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func TestManifests(t *testing.T) {
	ms := load(t)
	for _, name := range []string{"CronJob/sluice-run", "CronJob/sluice-compact"} {
		cj, ok := ms[name]
		if !ok {
			t.Fatalf("%s missing", name)
		}
		if got := cj.Spec["concurrencyPolicy"]; got != "Forbid" {
			t.Errorf("%s concurrencyPolicy = %v, want Forbid", name, got)
		}
		job := dig(cj.Spec, "jobTemplate", "spec")
		if got := dig(job, "template", "spec", "restartPolicy"); got != "Never" {
			t.Errorf("%s restartPolicy = %v, want Never (podFailurePolicy needs it)", name, got)
		}
		if _, ok := dig(job, "backoffLimit").(int); !ok {
			t.Errorf("%s: no backoffLimit", name)
		}
	}
	dep, ok := ms["Deployment/sluice-capture-shop"]
	if !ok {
		t.Fatal("Deployment/sluice-capture-shop missing")
	}
	if got := dep.Spec["replicas"]; got != 1 {
		t.Errorf("capture replicas = %v, want 1", got)
	}
	if got := dig(dep.Spec, "strategy", "type"); got != "Recreate" {
		t.Errorf("capture strategy = %v, want Recreate", got)
	}
	cm, ok := ms["ConfigMap/sluice-config"]
	if !ok {
		t.Fatal("ConfigMap/sluice-config missing")
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["sluice.yaml"]), &cfg); err != nil || cfg["warehouse"] == nil {
		t.Errorf("ConfigMap sluice.yaml: %v, warehouse %v", err, cfg["warehouse"])
	}
}
