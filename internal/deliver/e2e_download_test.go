package deliver

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/download"
	"github.com/sixtyfour-oss/webhooks/internal/jstest"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/publish"
	"github.com/sixtyfour-oss/webhooks/pkg/results"
	"github.com/sixtyfour-oss/webhooks/pkg/runresult"
)

func TestE2EDownloads(t *testing.T) {
	h := newHarness(t, streamsConfig())
	signer := download.Signer{Key: bytes.Repeat([]byte("k"), 32)}
	dl := httptest.NewServer(download.Handler(h.res.Results, signer, zerolog.Nop()))
	t.Cleanup(dl.Close)
	signer.BaseURL = dl.URL
	rc := newReceiver(t, nil)
	h.start(Config{Links: Links{Store: h.res.Results, Signer: signer, Wait: 5 * time.Second, Poll: 100 * time.Millisecond}}, nil)
	pub := publish.New(h.js, publish.Config{Streams: h.streams, URLs: envelope.URLPolicy{AllowHTTP: true}, Destinations: loopbackOnly, Results: h.res.Results})
	ctx := jstest.Context(t, 30*time.Second)

	var rows bytes.Buffer
	rows.WriteString("[")
	for i := range 300 {
		if i > 0 {
			rows.WriteString(",")
		}
		rows.WriteString(`{"n":` + strconv.Itoa(i) + `,"pad":"` + strings.Repeat("x", 1024) + `"}`)
	}
	rows.WriteString("]")
	run := workflowRun("run_big")
	run.RowCount, run.Results = 300, rows.Bytes()
	big, err := pub.PublishWorkflow(ctx, "org_1", rc.URL, run, envelope.Block{})
	if err != nil {
		t.Fatal(err)
	}
	csvRun := workflowRun("run_csv")
	csvRun.IncludeCSVDownloadLink = true
	csvRun.StartedAt = time.Now()
	csv := "name\nJohn Doe\n"
	if err := results.Put(ctx, h.res.Results, results.CSVKey("org_1", "run_csv", csvRun.PreviousBlockID), strings.NewReader(csv), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.PublishWorkflow(ctx, "org_1", rc.URL, csvRun, envelope.Block{}); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 10*time.Second, func() bool { return rc.count() == 2 }, "two deliveries")
	for _, r := range rc.requests() {
		env := envelopeOf(t, r)
		if env.ResultsDownloadURL == nil {
			t.Fatalf("%s: no results_download_url", env.RunID)
		}
		resp, err := http.Get(*env.ResultsDownloadURL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("%s: results=%.20s url=%s... -> %d %s %d bytes", env.RunID, env.Results, (*env.ResultsDownloadURL)[:60], resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		switch env.RunID {
		case "run_big":
			if string(env.Results) != "null" || !bytes.Equal(body, rows.Bytes()) || env.RowCount != 300 {
				t.Errorf("big: results %.10s, row_count %d, download %d bytes", env.Results, env.RowCount, len(body))
			}
		case "run_csv":
			if string(body) != csv || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
				t.Errorf("csv: download %q", body)
			}
		}
	}
	cols, o, err := runresult.Await(ctx, h.js, h.streams, "org_1", big.EventID)
	if err != nil || !cols.Success || cols.StatusCode/100 != 2 {
		t.Errorf("Await = %+v, %+v, %v", cols, o, err)
	}
	t.Logf("columns: %+v", cols)
}
