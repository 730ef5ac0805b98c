package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"
)

// assetFS holds the stylesheet and htmx 2 (with its licence), served
// from the binary: nothing comes from a CDN.
//
//go:embed assets
var assetFS embed.FS

// assetHashLength is how many hex digits of an asset's SHA-256 its URL
// carries.
const assetHashLength = 16

// asset is one embedded file and the URL it is served at.
type asset struct {
	name string
	body []byte
	hash string
	url  string
	typ  string
}

// assets serves /assets/<hash>/<name>: the hash is of the file's content,
// computed at start, so a release that changes a file changes its URL and
// browsers may cache every URL forever.
type assets struct {
	byName map[string]*asset
}

// loadAssets hashes every embedded asset.
func loadAssets() (*assets, error) {
	as := &assets{byName: map[string]*asset{}}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := path.Base(p)
		typ := mime.TypeByExtension(path.Ext(name))
		if typ == "" {
			typ = "text/plain; charset=utf-8"
		}
		h := hex.EncodeToString(sum[:])[:assetHashLength]
		as.byName[name] = &asset{name: name, body: body, hash: h, url: "/assets/" + h + "/" + name, typ: typ}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console: embedded assets: %w", err)
	}
	for _, want := range []string{"console.css", "htmx.min.js"} {
		if as.byName[want] == nil {
			return nil, fmt.Errorf("console: embedded asset %s is missing", want)
		}
	}
	return as, nil
}

// url returns the hashed URL of the named asset.
func (as *assets) url(name string) string { return as.byName[name].url }

// ServeHTTP serves an asset whose hash is current; any other is 404.
func (as *assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := as.byName[r.PathValue("name")]
	if a == nil || a.hash != r.PathValue("hash") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("no such asset\n"))
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("Content-Type", a.typ)
	w.Header().Set("ETag", `"`+a.hash+`"`)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body)) // the ETag answers revalidation
}
