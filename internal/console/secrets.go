package console

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// secretsData is the secrets page of one organization.
type secretsData struct {
	Operator bool
	Org      string
	Errors   formErrors
	// Loaded is set once an organization was read.
	Loaded   bool
	Active   *secrets.Meta
	Expiring *secrets.Meta
	Metas    []secrets.Meta
	// Problem explains a record that cannot be read.
	Problem   string
	CanManage bool
	Overlap   string
}

// secretNewData is the page that shows a new secret, once.
type secretNewData struct {
	Org       string
	Plaintext string
	Meta      secrets.Meta
	Rolled    bool
	Overlap   time.Duration
}

// OverlapText is the overlap in words: "1 hour", "24 hours".
func (d secretNewData) OverlapText() string {
	h := int(d.Overlap / time.Hour)
	if h == 1 {
		return "1 hour"
	}
	return strconv.Itoa(h) + " hours"
}

// secretsPage shows an organization's secrets: whether it has one, when
// it was made, and until when the previous one still signs.
func (c *console) secretsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	var fe formErrors
	vals := readParams(r.URL.Query(), []string{"org"}, &fe)
	org, ok := v.P.OrgFilter(vals["org"])
	if !ok {
		c.notFound(w, r, v)
		return
	}
	c.showSecrets(w, r, v, http.StatusOK, org, fe, strconv.Itoa(int(secrets.DefaultOverlap/time.Hour)))
}

// showSecrets renders the secrets page of org with the form errors fe.
func (c *console) showSecrets(w http.ResponseWriter, r *http.Request, v *viewer, status int, org string, fe formErrors, overlap string) {
	data := secretsData{Operator: v.P.Operator(), Org: org, CanManage: v.P.MayManage(), Overlap: overlap}
	if org != "" && !envelope.ValidOrgID(org) {
		fe.add("org", "must match [A-Za-z0-9_-]{1,64}")
	}
	if org != "" && fe.Fields["org"] == "" {
		metas, err := c.cfg.Secrets.Show(r.Context(), org)
		switch {
		case err == nil, errors.Is(err, secrets.ErrNoSecret):
			data.Loaded, data.Metas = true, metas
		case errors.Is(err, secrets.ErrCorruptRecord):
			data.Loaded, data.Problem = true, "The stored record cannot be read; an operator must repair or delete it."
		case errors.Is(err, secrets.ErrInvalidOrgID):
			fe.add("org", "must match [A-Za-z0-9_-]{1,64}")
		default:
			c.unavailable(w, r, v, "secret store", err)
			return
		}
		for i := range data.Metas {
			switch data.Metas[i].Status {
			case secrets.StatusActive:
				data.Active = &data.Metas[i]
			case secrets.StatusExpiring:
				data.Expiring = &data.Metas[i]
			}
		}
	}
	data.Errors = fe
	if !fe.Empty() && status == http.StatusOK {
		status = http.StatusBadRequest
	}
	c.render(w, r, v, status, "secrets", "Secrets", data)
}

// secretForm reads a secrets form and checks that v may manage the
// organization it names; it answers the request itself when not.
func (c *console) secretForm(w http.ResponseWriter, r *http.Request, v *viewer, fields ...string) (string, map[string]string, bool) {
	if err := r.ParseForm(); err != nil {
		c.errorPage(w, r, v, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return "", nil, false
	}
	var fe formErrors
	vals := readParams(r.PostForm, append([]string{"org"}, fields...), &fe)
	org, ok := v.P.OrgFilter(vals["org"])
	if !ok || org == "" || !envelope.ValidOrgID(org) {
		c.notFound(w, r, v)
		return "", nil, false
	}
	if !v.P.MayManage() {
		c.forbidden(w, r, v, "change signing secrets")
		return "", nil, false
	}
	if !fe.Empty() {
		c.showSecrets(w, r, v, http.StatusBadRequest, org, fe, vals["overlap_hours"])
		return "", nil, false
	}
	return org, vals, true
}

// secretCreate makes the first secret of an organization that has none.
func (c *console) secretCreate(w http.ResponseWriter, r *http.Request, v *viewer) {
	org, _, ok := c.secretForm(w, r, v)
	if !ok {
		return
	}
	metas, err := c.cfg.Secrets.Show(r.Context(), org)
	if err != nil && !errors.Is(err, secrets.ErrNoSecret) {
		c.secretError(w, r, v, org, err)
		return
	}
	for _, m := range metas {
		if m.Status == secrets.StatusActive {
			c.errorPage(w, r, v, http.StatusConflict, "Already has a secret", "This organization has an active secret: roll it instead.")
			return
		}
	}
	plaintext, meta, err := c.cfg.Secrets.Create(r.Context(), org)
	if err != nil {
		c.secretError(w, r, v, org, err)
		return
	}
	c.log.Info().Str("principal", v.P.Name).Str("org_id", org).Str("secret_id", meta.ID).Msg("console: signing secret created")
	c.render(w, r, v, http.StatusOK, "secret_new", "New secret", secretNewData{Org: org, Plaintext: plaintext, Meta: meta})
}

// secretRoll rolls an organization's secret with the overlap picked.
func (c *console) secretRoll(w http.ResponseWriter, r *http.Request, v *viewer) {
	org, vals, ok := c.secretForm(w, r, v, "overlap_hours")
	if !ok {
		return
	}
	hours, err := strconv.Atoi(vals["overlap_hours"])
	if err != nil || hours < 0 || time.Duration(hours)*time.Hour > secrets.MaxOverlap {
		var fe formErrors
		fe.add("overlap_hours", "must be a whole number of hours between 0 and 72")
		c.showSecrets(w, r, v, http.StatusBadRequest, org, fe, vals["overlap_hours"])
		return
	}
	overlap := time.Duration(hours) * time.Hour
	plaintext, meta, err := c.cfg.Secrets.Roll(r.Context(), org, overlap)
	if err != nil {
		c.secretError(w, r, v, org, err)
		return
	}
	c.log.Info().Str("principal", v.P.Name).Str("org_id", org).Str("secret_id", meta.ID).Dur("overlap", overlap).Msg("console: signing secret rolled")
	c.render(w, r, v, http.StatusOK, "secret_new", "New secret",
		secretNewData{Org: org, Plaintext: plaintext, Meta: meta, Rolled: true, Overlap: overlap})
}

// secretDeleteReview asks for confirmation before a delete.
func (c *console) secretDeleteReview(w http.ResponseWriter, r *http.Request, v *viewer) {
	org, _, ok := c.secretForm(w, r, v)
	if !ok {
		return
	}
	metas, err := c.cfg.Secrets.Show(r.Context(), org)
	if err != nil {
		c.secretError(w, r, v, org, err)
		return
	}
	var signing []secrets.Meta
	for _, m := range metas {
		if m.Status != secrets.StatusRevoked {
			signing = append(signing, m)
		}
	}
	if len(signing) == 0 {
		c.errorPage(w, r, v, http.StatusConflict, "Nothing to delete", "This organization has no secret that signs.")
		return
	}
	c.render(w, r, v, http.StatusOK, "secret_delete", "Delete secret", secretsData{Org: org, Metas: signing})
}

// secretDelete revokes every secret of the organization.
func (c *console) secretDelete(w http.ResponseWriter, r *http.Request, v *viewer) {
	org, _, ok := c.secretForm(w, r, v)
	if !ok {
		return
	}
	if err := c.cfg.Secrets.Delete(r.Context(), org); err != nil {
		c.secretError(w, r, v, org, err)
		return
	}
	c.log.Warn().Str("principal", v.P.Name).Str("org_id", org).Msg("console: signing secret deleted: deliveries are unsigned until a new secret exists")
	http.Redirect(w, r, withQuery("/secrets", query("org", org)), http.StatusSeeOther)
}

// secretError answers an error of the secret manager.
func (c *console) secretError(w http.ResponseWriter, r *http.Request, v *viewer, org string, err error) {
	switch {
	case errors.Is(err, secrets.ErrNoMasterKey):
		c.errorPage(w, r, v, http.StatusServiceUnavailable, "No master key", "No master key is configured (WEBHOOKS_MASTER_KEY): secrets cannot be created or rolled here. Nothing was changed.")
	case errors.Is(err, secrets.ErrNoSecret):
		c.errorPage(w, r, v, http.StatusNotFound, "No secret", "The organization "+org+" has no signing secret. Nothing was changed.")
	case errors.Is(err, secrets.ErrCorruptRecord):
		c.errorPage(w, r, v, http.StatusConflict, "Unreadable record", "The stored record cannot be read; an operator must repair or delete it. Nothing was changed.")
	case errors.Is(err, secrets.ErrConflict):
		c.errorPage(w, r, v, http.StatusConflict, "Changed meanwhile", "Someone else changed this organization's secrets at the same time; reload and retry.")
	default:
		c.unavailable(w, r, v, "secret store", err)
	}
}
