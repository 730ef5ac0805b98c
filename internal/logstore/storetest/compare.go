package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/logstore"
)

// checkEqual reports every field where got and want differ, by path. Times
// must be the same instant and in UTC (logstore.Truncate); pointers are
// compared by what they point at.
func checkEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if lines := diff(what, reflect.ValueOf(got), reflect.ValueOf(want)); len(lines) > 0 {
		t.Errorf("%s differs:\n\t%s", what, strings.Join(lines, "\n\t"))
	}
}

var timeType = reflect.TypeFor[time.Time]()

// diff returns one line per difference between got and want under path.
func diff(path string, got, want reflect.Value) []string {
	if got.Type() == timeType {
		return diffTime(path, got.Interface().(time.Time), want.Interface().(time.Time))
	}
	switch got.Kind() {
	case reflect.Pointer:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				return []string{fmt.Sprintf("%s: got %s, want %s", path, show(got), show(want))}
			}
			return nil
		}
		return diff(path, got.Elem(), want.Elem())
	case reflect.Struct:
		var out []string
		for i := range got.NumField() {
			out = append(out, diff(path+"."+got.Type().Field(i).Name, got.Field(i), want.Field(i))...)
		}
		return out
	case reflect.Slice:
		var out []string
		if got.Len() != want.Len() {
			out = append(out, fmt.Sprintf("%s: got %d elements, want %d", path, got.Len(), want.Len()))
		}
		for i := range min(got.Len(), want.Len()) {
			out = append(out, diff(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i))...)
		}
		return out
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		return []string{fmt.Sprintf("%s: got %#v, want %#v", path, got.Interface(), want.Interface())}
	}
	return nil
}

func diffTime(path string, got, want time.Time) []string {
	switch {
	case !got.Equal(want):
		return []string{fmt.Sprintf("%s: got %s, want %s", path, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))}
	case got.Location() != want.Location():
		return []string{fmt.Sprintf("%s: got the right instant in location %q, want %q (logstore.Truncate)", path, got.Location(), want.Location())}
	}
	return nil
}

// show formats a pointer for a message: nil, or what it points at.
func show(v reflect.Value) string {
	if v.IsNil() {
		return "nil"
	}
	if t, ok := v.Elem().Interface().(time.Time); ok {
		return t.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%#v", v.Elem().Interface())
}

// keys returns "event_id/replay" of each delivery, in order.
func keys(ds []logstore.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmt.Sprintf("%s/%d", d.EventID, d.Replay)
	}
	return out
}

// ids returns the event id of each delivery, in order.
func ids(ds []logstore.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.EventID
	}
	return out
}

// checkList reports got and want (lists of ids or keys) when they differ.
func checkList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n\tgot  %d %v\n\twant %d %v", what, len(got), got, len(want), want)
	}
}

// checkQueryError reports err unless it wraps ErrInvalidQuery as a
// *logstore.QueryError naming exactly fields (in any order).
func checkQueryError(t *testing.T, what string, err error, fields ...string) {
	t.Helper()
	if !errors.Is(err, logstore.ErrInvalidQuery) {
		t.Errorf("%s: err = %v, want one wrapping logstore.ErrInvalidQuery", what, err)
		return
	}
	var qe *logstore.QueryError
	if !errors.As(err, &qe) {
		t.Errorf("%s: err = %v (%T), want a *logstore.QueryError", what, err, err)
		return
	}
	var got []string
	for _, f := range qe.Fields {
		got = append(got, f.Field)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(fields))
	if !slices.Equal(got, want) {
		t.Errorf("%s: QueryError fields = %q, want %q (%v)", what, got, want, err)
	}
}

// checkCounts reports got unless it holds exactly the three states with
// the counts of want.
func checkCounts(t *testing.T, what string, got map[string]int64, retrying, delivered, undelivered int64) {
	t.Helper()
	want := map[string]int64{"retrying": retrying, "delivered": delivered, "undelivered": undelivered}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
