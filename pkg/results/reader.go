package results

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// chunkTimeout bounds the fetch of one chunk.
const chunkTimeout = 10 * time.Second

// ErrCorrupt is returned while reading an object whose chunks do not add up
// to its recorded size or SHA-256 digest (or were removed mid-read).
var ErrCorrupt = errors.New("results: object chunks do not match its metadata")

// Bucket is the results Object Store with a Get that holds at most one
// chunk (128 KiB by default) in memory per reader. jetstream's own Get
// pushes the chunks through an ordered push consumer whose flow-control
// window lets the NATS client buffer many MiB when the reader (an HTTP
// client) is slower than NATS: measured with the server in another
// process, up to 8 MiB of a 20 MiB object and 14 MiB of an 80 MiB one,
// varying with timing. Bucket.Get instead fetches the next chunk only when
// the previous one has been read, with one direct get per chunk. Every
// other method is the underlying store's.
type Bucket struct {
	jetstream.ObjectStore
	name   string
	stream jetstream.Stream
}

// OpenBucket returns the existing results bucket name (DefaultBucket when
// empty). Errors wrap jetstream's, such as jetstream.ErrBucketNotFound.
func OpenBucket(ctx context.Context, js jetstream.JetStream, name string) (*Bucket, error) {
	if name == "" {
		name = DefaultBucket
	}
	obs, err := js.ObjectStore(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("results: open bucket %s: %w", name, err)
	}
	// The bucket's backing stream, named as the object store spec (ADR-20) says.
	stream, err := js.Stream(ctx, "OBJ_"+name)
	if err != nil {
		return nil, fmt.Errorf("results: open bucket %s: stream: %w", name, err)
	}
	return &Bucket{ObjectStore: obs, name: name, stream: stream}, nil
}

// Get returns a reader of the object name that fetches one chunk at a time,
// each within 10 s and all within ctx, and verifies the size and SHA-256
// digest at the end (ErrCorrupt otherwise). A link falls back to the
// underlying Get. Errors: jetstream.ErrObjectNotFound for a missing or
// deleted object, others wrapped.
func (b *Bucket) Get(ctx context.Context, name string, opts ...jetstream.GetObjectOpt) (jetstream.ObjectResult, error) {
	if len(opts) > 0 {
		return b.ObjectStore.Get(ctx, name, opts...)
	}
	info, err := b.ObjectStore.GetInfo(ctx, name)
	if err != nil {
		return nil, err
	}
	if info.Opts != nil && info.Opts.Link != nil {
		return b.ObjectStore.Get(ctx, name)
	}
	return &chunkReader{
		ctx: ctx, stream: b.stream, info: info, left: info.Size, next: 1,
		subject: "$O." + b.name + ".C." + info.NUID, digest: sha256.New(),
	}, nil
}

// chunkReader reads an object's chunks in order: the first stored at or
// after next on the object's chunk subject, then the one after it.
type chunkReader struct {
	ctx     context.Context
	stream  jetstream.Stream
	info    *jetstream.ObjectInfo
	subject string
	digest  hash.Hash

	mu     sync.Mutex
	next   uint64 // sequence to look for the next chunk from
	left   uint64 // bytes not fetched yet
	buf    []byte // fetched, not yet read
	err    error
	closed bool
}

// Read returns bytes of the current chunk, fetching the next when it is used up.
func (r *chunkReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	if r.closed {
		return 0, io.ErrClosedPipe
	}
	for len(r.buf) == 0 {
		if r.left == 0 {
			r.err = r.verify()
			return 0, r.err
		}
		if err := r.fetch(); err != nil {
			r.err = err
			return 0, err
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// fetch loads the next chunk into buf.
func (r *chunkReader) fetch() error {
	ctx, cancel := context.WithTimeout(r.ctx, chunkTimeout)
	defer cancel()
	msg, err := r.stream.GetMsg(ctx, r.next, jetstream.WithGetMsgSubject(r.subject))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return fmt.Errorf("%w: %s: %d bytes missing", ErrCorrupt, r.info.Name, r.left)
	case err != nil:
		return fmt.Errorf("results: read %s: %w", r.info.Name, err)
	case uint64(len(msg.Data)) > r.left:
		return fmt.Errorf("%w: %s: more bytes than its size", ErrCorrupt, r.info.Name)
	}
	r.next = msg.Sequence + 1
	r.left -= uint64(len(msg.Data))
	r.digest.Write(msg.Data)
	r.buf = msg.Data
	return nil
}

// verify compares the digest of everything read with the recorded one.
func (r *chunkReader) verify() error {
	want := "SHA-256=" + base64.URLEncoding.EncodeToString(r.digest.Sum(nil))
	if r.info.Digest != "" && r.info.Digest != want {
		return fmt.Errorf("%w: %s: digest mismatch", ErrCorrupt, r.info.Name)
	}
	return io.EOF
}

// Close stops reading; later Reads fail.
func (r *chunkReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed, r.buf = true, nil
	return nil
}

// Info returns the object's metadata.
func (r *chunkReader) Info() (*jetstream.ObjectInfo, error) { return r.info, nil }

// Error returns the read error, if any (io.EOF is not an error).
func (r *chunkReader) Error() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if errors.Is(r.err, io.EOF) {
		return nil
	}
	return r.err
}
