package jobs

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// sluice.yaml is decoded over yaml.v3's node tree rather than its text,
// so that:
//   - ${NAME} is expanded in scalar values only: a comment that mentions
//     ${NAME} is left alone (text substitution used to fail on a
//     commented-out "# password: ${DB_PASSWORD}" when the variable was
//     unset), and a value cannot inject YAML structure (a variable holding
//     "a: b" or a quote stays one string);
//   - errors name the field: an unset variable is reported with the key
//     whose value references it, an unknown key with its path and line;
//   - line numbers in errors are the file's own.
//
// Before parsing, every ${…} reference is replaced by a placeholder made of
// letters, digits and underscores, which YAML reads the same in every
// context (plain, quoted, flow: `{password: ${PW}}` still parses, though
// "${PW}}" alone would not); the placeholders left in scalar values after
// parsing are then expanded. An expanded plain scalar is typed as if its
// text had been written there (port: ${PORT} with PORT=5432 is an
// integer); a quoted one stays a string.

// envRef matches ${NAME} and ${NAME:-default}.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// envPlaceholder stands for the reference with its index while parsing.
const envPlaceholderPrefix = "__sluice_env_ref_"

var envPlaceholder = regexp.MustCompile(envPlaceholderPrefix + `([0-9]+)__`)

// envReference is one ${…} of the config text.
type envReference struct {
	text, name, def string
	hasDefault      bool
}

// decodeConfig decodes YAML config text into cfg, expanding ${ENV}
// references in values with lookup. Errors name the field (a *FieldError)
// or carry the file's line numbers. An empty document leaves cfg unchanged.
func decodeConfig(data []byte, lookup func(string) (string, bool), cfg *Config) error {
	text := string(data)
	if strings.Contains(text, envPlaceholderPrefix) {
		return fmt.Errorf("the config contains %q, which sluice reserves", envPlaceholderPrefix)
	}
	var refs []envReference
	text = envRef.ReplaceAllStringFunc(text, func(m string) string {
		sub := envRef.FindStringSubmatch(m)
		refs = append(refs, envReference{text: m, name: sub[1], def: sub[3], hasDefault: sub[2] != ""})
		return fmt.Sprintf("%s%d__", envPlaceholderPrefix, len(refs)-1)
	})
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	x := &envExpander{refs: refs, lookup: lookup}
	if err := x.node(root, ""); err != nil {
		return err
	}
	if err := checkKnownFields(root, reflect.TypeOf(cfg).Elem(), ""); err != nil {
		return err
	}
	if err := root.Decode(cfg); err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	return nil
}

// fieldPath joins a mapping key onto a config path: "kafka" + "sasl".
func fieldPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// envExpander replaces the placeholders of a parsed config.
type envExpander struct {
	refs   []envReference
	lookup func(string) (string, bool)
}

// node expands the references in the scalar values under n, in place.
// Keys get their references back as written (they are never expanded);
// aliases share their anchor's node, which is expanded where it is defined.
func (x *envExpander) node(n *yaml.Node, path string) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			key.Value = x.restore(key.Value)
			if err := x.node(n.Content[i+1], fieldPath(path, key.Value)); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := x.node(c, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, envPlaceholderPrefix) {
			return nil
		}
		v, err := x.expand(n.Value)
		if err != nil {
			return &FieldError{Field: path, Msg: err.Error()}
		}
		n.Value = v
		const written = yaml.TaggedStyle | yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
		if n.Style&written == 0 {
			// A plain scalar's type is resolved from its text: resolve it
			// again from the expanded text, as if written there.
			n.Tag = ""
		}
	}
	return nil
}

// ref returns the reference a placeholder match stands for.
func (x *envExpander) ref(m string) *envReference {
	i, err := strconv.Atoi(envPlaceholder.FindStringSubmatch(m)[1])
	if err != nil || i >= len(x.refs) {
		return nil
	}
	return &x.refs[i]
}

// restore puts the references of s back as written.
func (x *envExpander) restore(s string) string {
	return envPlaceholder.ReplaceAllStringFunc(s, func(m string) string {
		if r := x.ref(m); r != nil {
			return r.text
		}
		return m
	})
}

// expand replaces the references of one value by their variables' values
// or defaults. An unset variable without default is an error naming it
// (never a value).
func (x *envExpander) expand(s string) (string, error) {
	var missing []string
	out := envPlaceholder.ReplaceAllStringFunc(s, func(m string) string {
		r := x.ref(m)
		if r == nil {
			return m
		}
		if v, ok := x.lookup(r.name); ok {
			return v
		}
		if r.hasDefault {
			return r.def
		}
		missing = append(missing, r.name)
		return ""
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set (referenced as ${%s}; use ${%s:-default} for a default)",
			strings.Join(missing, ", "), missing[0], missing[0])
	}
	return out, nil
}

var yamlUnmarshaler = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// checkKnownFields returns a *FieldError for the first mapping key under n
// that type t has no field for, naming its path and line: yaml.v3's
// KnownFields only exists on its text decoder, and its message names
// neither the path nor the section.
func checkKnownFields(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(yamlUnmarshaler) || reflect.PointerTo(t).Implements(yamlUnmarshaler) {
		return nil
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			if key.Value == "<<" { // a merge key: its values are checked where defined
				continue
			}
			ft, ok := fields[key.Value]
			if !ok {
				return &FieldError{Field: fieldPath(path, key.Value), Msg: fmt.Sprintf("unknown key (line %d); the keys are listed in docs/config.md", key.Line)}
			}
			if err := checkKnownFields(n.Content[i+1], ft, fieldPath(path, key.Value)); err != nil {
				return err
			}
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			if err := checkKnownFields(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkKnownFields(n.Content[i+1], t.Elem(), fieldPath(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
	}
	return nil
}

// yamlFields maps the YAML keys of struct t to their field types, as
// yaml.v3 names them: the tag's name, else the lowercased field name;
// ",inline" structs contribute their own keys.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, flags, _ := strings.Cut(tag, ",")
		if strings.Contains(","+flags+",", ",inline,") && f.Type.Kind() == reflect.Struct {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}
