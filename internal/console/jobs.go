package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
)

// errTooManyJobs means the principal already runs MaxRunningJobs jobs.
var errTooManyJobs = errors.New("console: too many jobs running")

// Job states.
const (
	jobRunning   = "running"
	jobDone      = "done"
	jobFailed    = "failed"
	jobCancelled = "cancelled"
)

// job is one background replay or purge. Its fields after mu change while
// it runs.
type job struct {
	id      string
	owner   string
	kind    string
	what    string
	started time.Time
	cancel  context.CancelFunc

	mu       sync.Mutex
	done     int
	total    int
	state    string
	finished time.Time
	result   string
	errs     []string
}

// progress records done of total; it is undelivered.ReplayOptions.Progress.
func (j *job) progress(done, total int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.done, j.total = done, total
}

// jobView is a job as its page shows it.
type jobView struct {
	ID, Kind, What, State string
	Done, Total           int
	Running               bool
	Started, Finished     time.Time
	Result                string
	Errors                []string
}

// view returns a consistent snapshot.
func (j *job) view() jobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	return jobView{ID: j.id, Kind: j.kind, What: j.what, State: j.state, Done: j.done, Total: j.total,
		Running: j.state == jobRunning, Started: j.started, Finished: j.finished, Result: j.result,
		Errors: append([]string(nil), j.errs...)}
}

// jobs is the registry of background jobs, each owned by the principal
// that started it. It is safe for concurrent use.
type jobs struct {
	ctx context.Context
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*job
}

func newJobs(ctx context.Context, now func() time.Time) *jobs {
	return &jobs{ctx: ctx, now: now, m: map[string]*job{}}
}

// ownerOf is the key that ties a job to its principal.
func ownerOf(p apitoken.Principal) string {
	return string(p.Scope) + "\x00" + p.OrgID + "\x00" + p.TokenID + "\x00" + p.Name
}

// jobRun does a job's work under ctx (cancelled with the console's
// context or by the owner), reporting progress on j. It returns the
// result line and the problems to list.
type jobRun func(ctx context.Context, j *job) (result string, problems []string, err error)

// start runs run in the background for owner and returns its job.
func (reg *jobs) start(owner, kind, what string, total int, run jobRun) (*job, error) {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("console: job id: %w", err)
	}
	ctx, cancel := context.WithCancel(reg.ctx)
	j := &job{id: hex.EncodeToString(raw), owner: owner, kind: kind, what: what, started: reg.now(), cancel: cancel,
		state: jobRunning, total: total}
	reg.mu.Lock()
	running := 0
	for id, o := range reg.m {
		v := o.view()
		if !v.Running && reg.now().Sub(v.Finished) > JobRetention {
			delete(reg.m, id)
			continue
		}
		if o.owner == owner && v.Running {
			running++
		}
	}
	if running >= MaxRunningJobs {
		reg.mu.Unlock()
		cancel()
		return nil, errTooManyJobs
	}
	reg.m[j.id] = j
	reg.mu.Unlock()
	go func() {
		defer cancel()
		result, problems, err := run(ctx, j)
		j.mu.Lock()
		defer j.mu.Unlock()
		j.finished, j.result, j.errs = reg.now(), result, problems
		switch {
		case err == nil:
			j.state = jobDone
		case ctx.Err() != nil:
			j.state = jobCancelled
		default:
			j.state = jobFailed
		}
	}()
	return j, nil
}

// get returns owner's job id; nil when there is none or it is another
// principal's (the two look the same).
func (reg *jobs) get(id, owner string) *job {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	j := reg.m[id]
	if j == nil || j.owner != owner {
		return nil
	}
	return j
}
