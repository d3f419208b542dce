package merge

// This file splits a schema-wrapped Debezium value {"schema":…,"payload":…}
// into its two parts without decoding them, so that decodeEvent decodes
// each distinct schema once (see schemaCache).
//
// TODO(schemas): an exported schemas.SplitEnvelope (or a schema cache in
// DecodeEnvelope) would let capture's and ingest's readers share this.

// splitWrapped returns the raw schema and payload of a value that is a JSON
// object with exactly the members "schema" and "payload", the payload an
// object. ok is false for anything else (bare envelopes, malformed JSON):
// the caller then decodes the whole value, which reports errors properly.
func splitWrapped(value []byte) (schema, payload []byte, ok bool) {
	i := skipSpace(value, 0)
	if i >= len(value) || value[i] != '{' {
		return nil, nil, false
	}
	i++
	for n := 0; ; n++ {
		i = skipSpace(value, i)
		if i < len(value) && value[i] == '}' && n > 0 {
			break
		}
		if n > 0 {
			if i >= len(value) || value[i] != ',' {
				return nil, nil, false
			}
			i = skipSpace(value, i+1)
		}
		end := skipJSONValue(value, i)
		if end < 0 || value[i] != '"' {
			return nil, nil, false
		}
		name := string(value[i+1 : end-1])
		i = skipSpace(value, end)
		if i >= len(value) || value[i] != ':' {
			return nil, nil, false
		}
		i = skipSpace(value, i+1)
		end = skipJSONValue(value, i)
		if end < 0 {
			return nil, nil, false
		}
		switch name {
		case "schema":
			schema = value[i:end]
		case "payload":
			payload = value[i:end]
		default:
			return nil, nil, false
		}
		i = end
	}
	if schema == nil || len(payload) == 0 || payload[0] != '{' {
		return nil, nil, false
	}
	return schema, payload, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipJSONValue returns the index just after the JSON value starting at i,
// or -1 when b[i:] does not start with a complete value. It checks
// structure (brackets, strings) only; scalars are not validated.
func skipJSONValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	depth := 0
	for ; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return -1
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return -1
			}
			if depth == 0 {
				return i + 1
			}
		default:
			if depth == 0 {
				// a scalar: up to the next delimiter
				j := i
				for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
					j++
				}
				return j
			}
		}
	}
	return -1
}
