// Package adminapi is the authenticated admin HTTP API of the publisher:
// the signing-secret lifecycle of an organization (create, roll, delete,
// show), mirroring the product's own endpoints. Plaintext secrets appear
// only in the create and roll responses, once; nothing here logs them.
//
//	GET    /v1/admin/orgs/{org}/signing-secret        200 {"active": meta|null, "secrets": [meta...]}
//	POST   /v1/admin/orgs/{org}/signing-secret        201 {"plaintext": "sk_whsec_…", "meta": meta}
//	POST   /v1/admin/orgs/{org}/signing-secret/roll   200 {"plaintext": "sk_whsec_…", "meta": meta}
//	       body (optional): {"expire_overlap_hours": 0..72}, default 24
//	DELETE /v1/admin/orgs/{org}/signing-secret        204
//
// The same four answer on /v1/secrets/{org} (and /v1/secrets/{org}/roll).
//
// Access: mount it behind apitoken's Authenticator.Require. Operators may
// do everything; an organization token may show its own organization's
// secret metadata (never a plaintext) and nothing else: create, roll and
// delete answer it 403 for its own organization, and every verb answers it
// 404 for another organization, the same answer as an organization with no
// secret, so that it does not learn which organizations exist.
//
// Errors: 400 invalid org or roll body, 401 without a token, 403 as above,
// 404 when the organization has no secret (roll, delete, show), 503 when
// the store cannot be reached, all in the httpapi error shape. A 400 is
// httpapi.Invalid, whose fields name each problem: "org" for the path's
// organization id, and for the roll body (read strictly, pkg/strictjson,
// like the event ingest) each bad member by its JSON path.
package adminapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/internal/httpapi"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
	"github.com/sixtyfour-oss/webhooks/pkg/strictjson"
)

// PathPrefix is where the admin API is mounted.
const PathPrefix = "/v1/admin/"

// SecretsPathPrefix is the same secret API's shorter path, mounted beside
// PathPrefix: /v1/secrets/{org} and /v1/secrets/{org}/roll answer as
// /v1/admin/orgs/{org}/signing-secret and its /roll, with the same access.
const SecretsPathPrefix = "/v1/secrets/"

// SecretManager is the lifecycle the API exposes; *secrets.Manager implements it.
type SecretManager interface {
	Create(ctx context.Context, orgID string) (string, secrets.Meta, error)
	Roll(ctx context.Context, orgID string, overlap time.Duration) (string, secrets.Meta, error)
	Delete(ctx context.Context, orgID string) error
	Show(ctx context.Context, orgID string) ([]secrets.Meta, error)
}

// created is the create and roll response.
type created struct {
	Plaintext string       `json:"plaintext"`
	Meta      secrets.Meta `json:"meta"`
}

// shown is the show response.
type shown struct {
	Active  *secrets.Meta  `json:"active"`
	Secrets []secrets.Meta `json:"secrets"`
}

// rollRequest is the optional roll body.
type rollRequest struct {
	ExpireOverlapHours *int `json:"expire_overlap_hours"`
}

// NewHandler returns the admin API; it reads each request's Principal
// (none: 401).
func NewHandler(m SecretManager, log zerolog.Logger) http.Handler {
	mux := http.NewServeMux()
	for _, base := range []string{PathPrefix + "orgs/{org}/signing-secret", SecretsPathPrefix + "{org}"} {
		mux.HandleFunc("GET "+base, func(w http.ResponseWriter, r *http.Request) {
			if !allowed(w, r, false) {
				return
			}
			metas, err := m.Show(r.Context(), r.PathValue("org"))
			if err != nil {
				fail(w, err)
				return
			}
			out := shown{Secrets: metas}
			for i := range metas {
				if metas[i].Status == secrets.StatusActive {
					out.Active = &metas[i]
				}
			}
			httpapi.WriteJSON(w, http.StatusOK, out)
		})
		mux.HandleFunc("POST "+base, func(w http.ResponseWriter, r *http.Request) {
			if !allowed(w, r, true) {
				return
			}
			plaintext, meta, err := m.Create(r.Context(), r.PathValue("org"))
			if err != nil {
				fail(w, err)
				return
			}
			log.Info().Str("org_id", meta.OrgID).Str("secret_id", meta.ID).Msg("signing secret created")
			httpapi.WriteJSON(w, http.StatusCreated, created{Plaintext: plaintext, Meta: meta})
		})
		mux.HandleFunc("POST "+base+"/roll", func(w http.ResponseWriter, r *http.Request) {
			if !allowed(w, r, true) {
				return
			}
			overlap, fields, err := readOverlap(r)
			if err != nil {
				httpapi.WriteInvalid(w, err.Error(), fields)
				return
			}
			plaintext, meta, err := m.Roll(r.Context(), r.PathValue("org"), overlap)
			if err != nil {
				fail(w, err)
				return
			}
			log.Info().Str("org_id", meta.OrgID).Str("secret_id", meta.ID).Dur("overlap", overlap).Msg("signing secret rolled")
			httpapi.WriteJSON(w, http.StatusOK, created{Plaintext: plaintext, Meta: meta})
		})
		mux.HandleFunc("DELETE "+base, func(w http.ResponseWriter, r *http.Request) {
			if !allowed(w, r, true) {
				return
			}
			if err := m.Delete(r.Context(), r.PathValue("org")); err != nil {
				fail(w, err)
				return
			}
			log.Warn().Str("org_id", r.PathValue("org")).Msg("signing secret deleted: deliveries are unsigned until a new secret exists")
			w.WriteHeader(http.StatusNoContent)
		})
	}
	for _, prefix := range []string{PathPrefix, SecretsPathPrefix} {
		mux.HandleFunc(prefix, func(w http.ResponseWriter, _ *http.Request) {
			httpapi.WriteError(w, http.StatusNotFound, "not_found", "no such admin endpoint")
		})
	}
	return mux
}

// allowed reports whether the request's Principal may reach the path's
// organization (manage: change its secret); otherwise it answers 401, 404
// (another organization: the answer of an organization without a secret)
// or 403 (an organization token changing its own secret).
func allowed(w http.ResponseWriter, r *http.Request, manage bool) bool {
	p, ok := apitoken.RequestPrincipal(w, r)
	switch {
	case !ok:
		return false
	case !p.Sees(r.PathValue("org")):
		fail(w, secrets.ErrNoSecret)
		return false
	case manage && !p.MayManage():
		httpapi.WriteError(w, http.StatusForbidden, "forbidden", "an organization token may only read its secret's metadata; an operator manages secrets")
		return false
	}
	return true
}

// readOverlap reads the optional roll body: the overlap in whole hours,
// 0..72, default 24 (an empty body or no member). An error comes with
// one entry per bad member (none when the body as a whole is wrong).
func readOverlap(r *http.Request) (time.Duration, []envelope.FieldError, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the body: %w", err)
	}
	if len(body) == 0 {
		return secrets.DefaultOverlap, nil, nil
	}
	var req rollRequest
	if err := strictjson.Unmarshal(body, &req); err != nil {
		return 0, httpapi.JSONFields(err), fmt.Errorf("body must be {\"expire_overlap_hours\": 0..72}: %w", err)
	}
	if req.ExpireOverlapHours == nil {
		return secrets.DefaultOverlap, nil, nil
	}
	h := *req.ExpireOverlapHours
	if h < 0 || h > int(secrets.MaxOverlap/time.Hour) {
		const msg = "must be between 0 and 72"
		return 0, []envelope.FieldError{{Field: "expire_overlap_hours", Message: msg}}, errors.New("expire_overlap_hours " + msg)
	}
	return time.Duration(h) * time.Hour, nil, nil
}

// fail maps a secrets error to a response.
func fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, secrets.ErrInvalidOrgID):
		httpapi.WriteInvalid(w, err.Error(), []envelope.FieldError{{Field: "org", Message: "must match [A-Za-z0-9_-]{1,64}"}})
	case errors.Is(err, secrets.ErrInvalidOverlap):
		httpapi.WriteInvalid(w, err.Error(), []envelope.FieldError{{Field: "expire_overlap_hours", Message: "must be between 0 and 72"}})
	case errors.Is(err, secrets.ErrNoSecret):
		httpapi.WriteError(w, http.StatusNotFound, "no_secret", "the organization has no signing secret")
	case errors.Is(err, secrets.ErrNoMasterKey):
		httpapi.WriteError(w, http.StatusServiceUnavailable, "no_master_key", "this publisher has no master key (WEBHOOKS_MASTER_KEY), so it cannot create or roll secrets; nothing was changed")
	case errors.Is(err, secrets.ErrCorruptRecord):
		httpapi.WriteError(w, http.StatusConflict, "corrupt_record", "the stored record cannot be read; an operator must repair or delete it")
	default:
		httpapi.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the secret store cannot be reached; nothing was changed")
	}
}
