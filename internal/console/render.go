package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// templateFS holds the pages: layout.html wraps each other file's
// "content" template.
//
//go:embed templates
var templateFS embed.FS

// pages are the parsed templates, one per page, each with the layout.
type pages struct {
	byName map[string]*template.Template
	css    string
	js     string
}

// funcs are the helpers the templates use; none of them marks anything as
// safe HTML: every value is escaped by html/template.
var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"whenp": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ms": func(v float64) string {
		if v >= 1000 {
			return strconv.FormatFloat(v/1000, 'f', 2, 64) + " s"
		}
		return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
	},
	"delay": func(ms int64) string {
		if ms == 0 {
			return "–"
		}
		return (time.Duration(ms) * time.Millisecond).String()
	},
	"status": func(code int) string {
		if code == 0 {
			return "none"
		}
		return strconv.Itoa(code)
	},
	"orDash": func(s string) string {
		if s == "" {
			return "–"
		}
		return s
	},
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
	"percent": func(done, total int) int {
		if total <= 0 {
			return 0
		}
		return done * 100 / total
	},
}

// loadPages parses every page with the layout.
func loadPages(as *assets) (*pages, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	pg := &pages{byName: map[string]*template.Template{}, css: as.url("console.css"), js: as.url("htmx.min.js")}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		pg.byName[name] = t
	}
	return pg, nil
}

// view is what the layout renders around a page.
type view struct {
	Title   string
	Nav     string
	Who     *who
	Secrets bool
	CSS, JS string
	// Refresh reloads the page every 2 s when JavaScript is off (a
	// running job); with it on, htmx polls instead.
	Refresh bool
	Data    any
}

// who is the signed-in principal as the header shows it.
type who struct {
	Name     string
	Operator bool
	OrgID    string
	Replay   bool
}

func whoOf(v *viewer) *who {
	if v == nil {
		return nil
	}
	return &who{Name: v.P.Name, Operator: v.P.Operator(), OrgID: v.P.OrgID, Replay: v.P.MayReplay(v.P.OrgID)}
}

// navOf names the header link a page belongs to.
var navOf = map[string]string{
	"overview": "overview", "deliveries": "deliveries", "event": "deliveries",
	"undelivered": "undelivered", "undelivered_show": "undelivered", "review": "undelivered", "job": "undelivered",
	"secrets": "secrets", "secret_new": "secrets", "secret_delete": "secrets",
}

// render writes page name with data, rendered in full before anything is
// written so that a template error is a clean 500.
func (c *console) render(w http.ResponseWriter, r *http.Request, v *viewer, status int, name, title string, data any) {
	c.renderView(w, r, v, status, name, view{Title: title, Data: data})
}

// renderView is render with the layout's fields given.
func (c *console) renderView(w http.ResponseWriter, _ *http.Request, v *viewer, status int, name string, vw view) {
	t := c.pages.byName[name]
	if t == nil {
		c.log.Error().Str("page", name).Msg("console: no such template")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	vw.Nav, vw.Who, vw.Secrets, vw.CSS, vw.JS = navOf[name], whoOf(v), c.cfg.Secrets != nil, c.pages.css, c.pages.js
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", vw); err != nil {
		c.log.Error().Err(err).Str("page", name).Msg("console: render")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorData is the error page.
type errorData struct {
	Heading string
	Message string
}

// errorPage answers status with a short explanation.
func (c *console) errorPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, heading, message string) {
	c.render(w, r, v, status, "error", heading, errorData{Heading: heading, Message: message})
}

// notFound is the one answer for what does not exist and for what belongs
// to another organization: the two must look the same.
func (c *console) notFound(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.errorPage(w, r, v, http.StatusNotFound, "Not found", "There is nothing here.")
}

// unavailable answers 503 when a store or the broker cannot be read; the
// cause is logged, not shown.
func (c *console) unavailable(w http.ResponseWriter, r *http.Request, v *viewer, what string, err error) {
	c.log.Error().Err(err).Str("what", what).Msg("console: cannot read")
	c.errorPage(w, r, v, http.StatusServiceUnavailable, "Unavailable", "The "+what+" cannot be read right now; retry in a moment.")
}

// forbidden answers 403: the principal sees the organization but may not
// do this to it (apitoken.ErrForbidden).
func (c *console) forbidden(w http.ResponseWriter, r *http.Request, v *viewer, what string) {
	c.errorPage(w, r, v, http.StatusForbidden, "Not allowed", "This token may not "+what+".")
}
