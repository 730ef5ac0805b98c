package strictjson

import (
	"bytes"
	"encoding"
	"errors"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// leafOptions decode one value on its own: as strictly as Unmarshal, but
// past duplicate names and invalid UTF-8, which the scan reports.
var leafOptions = json.JoinOptions(options, lenient)

// errFull stops the walk once the collector holds MaxProblems.
var errFull = errors.New("strictjson: enough problems")

// walker follows a syntactically valid document and its target type
// together, recording unknown members and values of the wrong type.
type walker struct {
	dec  *jsontext.Decoder
	path []string
	c    *collector
}

// walk records the unknown members and wrong types of data (already
// scanned) read into a value of type t.
func walk(data []byte, t reflect.Type, c *collector) {
	w := &walker{dec: jsontext.NewDecoder(bytes.NewReader(data), lenient), c: c}
	_ = w.value(t) // a decoder error cannot happen after the scan; errFull ends the walk early
}

// value walks the next value, read into type t. Objects and arrays are
// followed for structs with plain json tags, maps with string keys and
// slices; anything else (custom unmarshalers, jsontext.Value, a kind that
// does not match) is decoded on its own, and its error recorded.
func (w *walker) value(t reflect.Type) error {
	kind := w.dec.PeekKind()
	if t.Kind() == reflect.Pointer && !isLeaf(t) {
		if kind == 'n' {
			_, err := w.dec.ReadValue()
			return err
		}
		return w.value(t.Elem())
	}
	switch {
	case isLeaf(t):
	case t.Kind() == reflect.Struct && kind == '{':
		if fields, ok := structFields(t); ok {
			return w.object(func(name string) (reflect.Type, string) { return fields.lookup(name) })
		}
	case t.Kind() == reflect.Map && kind == '{' && t.Key().Kind() == reflect.String && !isLeaf(t.Key()):
		return w.object(func(string) (reflect.Type, string) { return t.Elem(), "" })
	case t.Kind() == reflect.Slice && kind == '[' && t.Elem().Kind() != reflect.Uint8:
		return w.array(t.Elem())
	}
	return w.leaf(t)
}

// object walks an object whose member types member gives: nil for an
// unknown member, with a hint for the message.
func (w *walker) object(member func(name string) (reflect.Type, string)) error {
	if _, err := w.dec.ReadToken(); err != nil {
		return err
	}
	for w.dec.PeekKind() != '}' {
		raw, err := w.dec.ReadValue()
		if err != nil {
			return err
		}
		at := w.dec.InputOffset() - int64(len(raw))
		name := unquote(raw)
		w.path = append(w.path, name)
		if t, hint := member(name); t != nil {
			err = w.value(t)
		} else if err = w.add(Error{Field: w.field(), Message: "unknown field" + hint, Offset: at}); err == nil {
			err = w.dec.SkipValue()
		}
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
	}
	_, err := w.dec.ReadToken()
	return err
}

// array walks an array of elem values.
func (w *walker) array(elem reflect.Type) error {
	if _, err := w.dec.ReadToken(); err != nil {
		return err
	}
	for i := 0; w.dec.PeekKind() != ']'; i++ {
		w.path = append(w.path, strconv.Itoa(i))
		err := w.value(elem)
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
	}
	_, err := w.dec.ReadToken()
	return err
}

// leaf decodes the next value on its own into a new t and records a
// semantic error; syntax-level ones are the scan's.
func (w *walker) leaf(t reflect.Type) error {
	raw, err := w.dec.ReadValue()
	if err != nil {
		return err
	}
	at := w.dec.InputOffset() - int64(len(raw))
	err = json.Unmarshal(raw, reflect.New(t).Interface(), leafOptions)
	if sem := (*json.SemanticError)(nil); errors.As(err, &sem) {
		return w.add(convert(sem, w.path, at))
	}
	return nil
}

// add records e, or returns errFull.
func (w *walker) add(e Error) error {
	if !w.c.add(1, e) {
		return errFull
	}
	return nil
}

// field is the dotted path of the current value.
func (w *walker) field() string { return strings.Join(w.path, ".") }

// Types whose values v2 reads through their own methods: the walk does
// not look inside them.
var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	unmarshalerFromType = reflect.TypeFor[json.UnmarshalerFrom]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	valueType           = reflect.TypeFor[jsontext.Value]()
)

// isLeaf reports whether values of t are decoded whole.
func isLeaf(t reflect.Type) bool {
	if t == valueType {
		return true
	}
	for _, m := range []reflect.Type{unmarshalerType, unmarshalerFromType, textUnmarshalerType} {
		if t.Implements(m) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(m)) {
			return true
		}
	}
	return false
}

// fieldSet maps a struct's JSON member names to their types, in field order.
type fieldSet struct {
	names []string
	types map[string]reflect.Type
}

// lookup returns the type of the member name, or nil and a hint naming a
// member that differs only in case.
func (f fieldSet) lookup(name string) (reflect.Type, string) {
	if t, ok := f.types[name]; ok {
		return t, ""
	}
	for _, known := range f.names {
		if strings.EqualFold(known, name) {
			return nil, "; did you mean " + strconv.Quote(known) + "?"
		}
	}
	return nil, ""
}

// structFields returns the members of struct t, or false when t uses what
// the walk does not follow the way v2 does (embedded fields, tag options
// other than omitempty and omitzero, quoted names): t is then decoded
// whole, and only its first problem is found.
func structFields(t reflect.Type) (fieldSet, bool) {
	f := fieldSet{types: make(map[string]reflect.Type, t.NumField())}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _ := sf.Tag.Lookup("json")
		switch {
		case sf.Anonymous:
			return fieldSet{}, false
		case !sf.IsExported() || tag == "-":
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.ContainsAny(name, `'"\`+"`") {
			return fieldSet{}, false
		}
		for opt := range strings.SplitSeq(opts, ",") {
			if opt != "" && opt != "omitempty" && opt != "omitzero" {
				return fieldSet{}, false
			}
		}
		if name == "" {
			name = sf.Name
		}
		if _, dup := f.types[name]; dup {
			return fieldSet{}, false // v2 refuses the type itself
		}
		f.names = append(f.names, name)
		f.types[name] = sf.Type
	}
	return f, true
}
