// Package download serves the workflow results that results_download_url
// points to: the signed, expiring download URLs, and the HTTP handler that
// verifies a URL and streams the object from the results bucket
// (pkg/results).
//
// A URL is <BaseURL>/v1/downloads/<escaped key>?exp=<unix seconds>&sig=<hex>,
// where sig is HMAC-SHA256(server key, "v1\n"+key+"\n"+exp). The server key
// never leaves the servers that sign (deliverers) and verify (the download
// server); a receiver only ever holds one URL, valid until exp (900 s after
// signing by default, like the product's download links).
//
// The package does not decide when a link is included or signed (the
// deliverer does, per attempt) and never reads configuration: cmd/* parses
// the key with ParseKey and passes a Signer.
package download
