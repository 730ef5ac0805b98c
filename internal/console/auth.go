package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
)

// errSignedOut means the request has no live session: no cookie, an
// unknown or expired id, or a token that no longer authenticates.
var errSignedOut = errors.New("console: not signed in")

// viewer is the signed-in principal of a request.
type viewer struct {
	key [32]byte
	P   apitoken.Principal
}

// currentSession returns the request's viewer. The session's token is
// authenticated again, so a revoked token ends the session here; an error
// other than errSignedOut means the token store could not be read.
func (c *console) currentSession(r *http.Request) (*viewer, error) {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return nil, errSignedOut
	}
	sess, ok := c.sessions.get(ck.Value)
	if !ok {
		return nil, errSignedOut
	}
	p, err := c.cfg.Auth.Authenticate(r.Context(), sess.token)
	switch {
	case errors.Is(err, apitoken.ErrUnknownToken):
		c.sessions.remove(sess.key)
		c.log.Info().Str("principal", sess.principal.Name).Msg("console session ended: its token no longer authenticates")
		return nil, errSignedOut
	case err != nil:
		return nil, err
	}
	if _, ok := apitoken.FromContext(apitoken.WithPrincipal(r.Context(), p)); !ok {
		c.sessions.remove(sess.key)
		return nil, errSignedOut
	}
	if p != sess.principal {
		c.sessions.update(sess.key, p)
	}
	return &viewer{key: sess.key, P: p}, nil
}

// authed serves fn to requests with a live session; others are sent to
// the sign-in page (htmx requests by an HX-Redirect header).
func (c *console) authed(fn func(http.ResponseWriter, *http.Request, *viewer)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := c.currentSession(r)
		switch {
		case errors.Is(err, errSignedOut):
			c.toLogin(w, r)
		case err != nil:
			c.log.Error().Err(err).Msg("console: the token store cannot be read")
			c.errorPage(w, r, nil, http.StatusServiceUnavailable, "Unavailable", "The token store cannot be read; retry in a moment.")
		default:
			fn(w, r, v)
		}
	})
}

// toLogin redirects to the sign-in page, coming back to this page after
// it (for a GET; a form post comes back to the overview).
func (c *console) toLogin(w http.ResponseWriter, r *http.Request) {
	next := "/"
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		next = localPath(r.URL.RequestURI())
	}
	clearCookie(w, r)
	target := "/login"
	if next != "/" {
		target += "?next=" + url.QueryEscape(next)
	}
	if isHTMX(r) {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// loginData is the sign-in page.
type loginData struct {
	Next  string
	Error string
}

// loginPage shows the sign-in form; a live session goes straight on.
func (c *console) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if _, err := c.currentSession(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	c.render(w, r, nil, http.StatusOK, "login", "Sign in", loginData{Next: next})
}

// signIn checks the token of the sign-in form and starts a session.
func (c *console) signIn(w http.ResponseWriter, r *http.Request) {
	addr := clientIP(r)
	if err := r.ParseForm(); err != nil {
		c.render(w, r, nil, http.StatusBadRequest, "login", "Sign in", loginData{Next: "/", Error: "The form could not be read."})
		return
	}
	next := localPath(r.PostForm.Get("next"))
	if d := c.limiter.wait(addr); d > 0 {
		n := waitSeconds(d)
		w.Header().Set("Retry-After", strconv.Itoa(n))
		c.render(w, r, nil, http.StatusTooManyRequests, "login", "Sign in",
			loginData{Next: next, Error: "Too many attempts, wait " + strconv.Itoa(n) + " s."})
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		c.render(w, r, nil, http.StatusBadRequest, "login", "Sign in", loginData{Next: next, Error: "Enter a token."})
		return
	}
	p, err := c.cfg.Auth.Authenticate(r.Context(), token)
	if err == nil {
		if _, ok := apitoken.FromContext(apitoken.WithPrincipal(r.Context(), p)); !ok {
			err = apitoken.ErrUnknownToken
		}
	}
	switch {
	case errors.Is(err, apitoken.ErrUnknownToken):
		c.limiter.bad(addr)
		c.log.Warn().Str("client", addr).Msg("console: bad sign-in")
		c.render(w, r, nil, http.StatusUnauthorized, "login", "Sign in", loginData{Next: next, Error: "Unknown or revoked token."})
		return
	case err != nil:
		c.log.Error().Err(err).Msg("console: the token store cannot be read")
		c.render(w, r, nil, http.StatusServiceUnavailable, "login", "Sign in", loginData{Next: next, Error: "The token store cannot be read; retry in a moment."})
		return
	}
	if old, err := r.Cookie(CookieName); err == nil {
		if sess, ok := c.sessions.get(old.Value); ok {
			c.sessions.remove(sess.key)
		}
	}
	id, err := c.sessions.create(token, p)
	if err != nil {
		c.errorPage(w, r, nil, http.StatusInternalServerError, "Error", "The session could not be started.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: id, Path: "/", HttpOnly: true, Secure: secureCookie(r), SameSite: http.SameSiteStrictMode})
	c.log.Info().Str("principal", p.Name).Str("scope", string(p.Scope)).Str("org_id", p.OrgID).Str("client", addr).Msg("console: signed in")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signOut ends the request's session.
func (c *console) signOut(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(CookieName); err == nil {
		if sess, ok := c.sessions.get(ck.Value); ok {
			c.sessions.remove(sess.key)
			c.log.Info().Str("principal", sess.principal.Name).Msg("console: signed out")
		}
	}
	clearCookie(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// clearCookie tells the browser to drop the session cookie.
func clearCookie(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(CookieName); err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secureCookie(r), SameSite: http.SameSiteStrictMode})
}
