package console_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestEventPage(t *testing.T) {
	e := newEnv(t)
	fx := e.fixture()
	b := e.browser()
	b.signIn(operatorToken)
	p := b.get("/events/"+fx.aUndelivered).want(t, http.StatusOK, "event")
	for _, want := range []string{
		"Original delivery", "<dt>Attempts</dt><dd>2</dd>", "<tr>\n<td>1</td>", "<tr>\n<td>2</td>", "<td>503", "<td>500", "30s", "(retry_after)", "HTTP 503",
		"status 503", "This event is in the undelivered stream",
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the event page lacks %q", want)
		}
	}
	wf := b.get("/events/"+fx.aWorkflow).want(t, http.StatusOK, "workflow event")
	for _, want := range []string{"Workflow block columns", "webhook_status_code</dt><dd>200", "webhook_success</dt><dd>yes", "{&#34;accepted&#34;:true}", "run-1"} {
		if !strings.Contains(wf.body, want) {
			t.Errorf("the workflow event page lacks %q", want)
		}
	}
	if strings.Contains(wf.body, "in the undelivered stream") {
		t.Error("a delivered event links to a replay")
	}
}
