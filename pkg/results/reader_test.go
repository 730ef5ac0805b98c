package results_test

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/results"
)

func TestBucketGet(t *testing.T) {
	s := jstest.Server(t)
	_, js := jstest.Connect(t, s)
	ctx := jstest.Context(t, 30*time.Second)
	if _, err := js.CreateOrUpdateObjectStore(ctx, results.BucketConfig("", 1)); err != nil {
		t.Fatal(err)
	}
	b, err := results.OpenBucket(ctx, js, "")
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 128 << 10
	for _, size := range []int{0, 1, chunk - 1, chunk, chunk + 1, 3*chunk + 7} {
		data := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		key := "sizes/" + strconv.Itoa(size)
		if err := results.Put(ctx, b, key, bytes.NewReader(data), ""); err != nil {
			t.Fatal(err)
		}
		// Replace it once, so its chunks are not the first in the stream.
		if err := results.Put(ctx, b, key, bytes.NewReader(data), ""); err != nil {
			t.Fatal(err)
		}
		obj, err := b.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		if err != nil || !bytes.Equal(got, data) || obj.Error() != nil {
			t.Errorf("size %d: read %d bytes, %v, Error() = %v; want the %d bytes put", size, len(got), err, obj.Error(), size)
		}
		obj.Close()
	}

	if _, err := b.Get(ctx, "no/such.csv"); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Errorf("Get of a missing object = %v, want ErrObjectNotFound", err)
	}

	// An object whose chunks are gone (purged, aged out) fails, never
	// returning a short object as complete.
	key := "gone/x.csv"
	if err := results.Put(ctx, b, key, bytes.NewReader(make([]byte, 2*chunk)), ""); err != nil {
		t.Fatal(err)
	}
	info, err := b.GetInfo(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, "OBJ_"+results.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject("$O."+results.DefaultBucket+".C."+info.NUID)); err != nil {
		t.Fatal(err)
	}
	obj, err := b.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(obj); !errors.Is(err, results.ErrCorrupt) {
		t.Errorf("read of a purged object = %v, want ErrCorrupt", err)
	}
}
