package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Load reads the environment into dst, a pointer to a struct of settings
// (such as *Common, or a struct that embeds Common), then calls dst's
// Validate method if it has one. Fields are read as envconfig reads them
// (the envconfig and default tags), but one at a time, so that every value
// that does not parse is reported, together with every problem Validate
// finds: the error is Problems (errors.Is(err, ErrInvalid)), each problem
// naming its variable. A variable that does not parse keeps its field's
// previous value, and Validate's complaints about that variable are left
// out (the parse error says more).
func Load(dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: Load needs a pointer to a struct, got %T", dst)
	}
	var parse Problems
	loadFields(v.Elem(), &parse)
	var checked error
	if val, ok := dst.(interface{ Validate() error }); ok {
		checked = val.Validate()
	}
	unparsed := map[string]bool{}
	for _, p := range parse {
		if se, ok := p.(*SettingError); ok {
			unparsed[se.Name] = true
		}
	}
	var rest Problems
	found, _ := Check(checked).(Problems)
	for _, p := range found {
		if se, ok := p.(*SettingError); ok && unparsed[se.Name] {
			continue
		}
		rest = append(rest, p)
	}
	return Check(parse, rest)
}

// loadFields reads each settable field of the struct s: embedded structs
// field by field, every other field alone, with envconfig.
func loadFields(s reflect.Value, problems *Problems) {
	t := s.Type()
	for i := range t.NumField() {
		sf, f := t.Field(i), s.Field(i)
		if !f.CanSet() || isTrue(sf.Tag.Get("ignored")) {
			continue
		}
		if sf.Anonymous && f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct {
			if f.IsNil() {
				f.Set(reflect.New(f.Type().Elem()))
			}
			f = f.Elem()
		}
		if sf.Anonymous && f.Kind() == reflect.Struct && !decodesItself(f) {
			loadFields(f, problems)
			continue
		}
		*problems = append(*problems, loadField(sf, f)...)
	}
}

// loadField reads one field: envconfig processes a struct holding only that
// field (same name, type and tags), so its rules apply unchanged.
func loadField(sf reflect.StructField, f reflect.Value) []error {
	one := reflect.New(reflect.StructOf([]reflect.StructField{{Name: sf.Name, Type: f.Type(), Tag: sf.Tag}}))
	one.Elem().Field(0).Set(f)
	err := envconfig.Process("", one.Interface())
	if err == nil {
		f.Set(one.Elem().Field(0))
		return nil
	}
	var pe *envconfig.ParseError
	if errors.As(err, &pe) {
		return []error{Bad(pe.KeyName, "%q is not %s", pe.Value, kindOf(f.Type()))}
	}
	return []error{fmt.Errorf("%s: %w", sf.Name, err)}
}

// kindOf says in words what a value of type t is written as.
func kindOf(t reflect.Type) string {
	if t == reflect.TypeFor[time.Duration]() {
		return "a duration (such as 30s, 5m or 1h)"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return "a valid " + t.String()
	}
}

// decodesItself reports whether envconfig reads the struct f as one value
// (it has a decoding method) rather than field by field.
func decodesItself(f reflect.Value) bool {
	p := f.Addr().Interface()
	switch p.(type) {
	case envconfig.Decoder, envconfig.Setter, encoding.TextUnmarshaler, encoding.BinaryUnmarshaler:
		return true
	}
	return false
}

// isTrue is envconfig's reading of a boolean tag.
func isTrue(s string) bool {
	b, _ := strconv.ParseBool(s)
	return b
}
