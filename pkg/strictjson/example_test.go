package strictjson_test

import (
	"errors"
	"fmt"

	"github.com/sixtyfour-oss/webhooks/pkg/strictjson"
)

// A request body with four mistakes: every one is listed, by its path.
func ExampleUnmarshal() {
	type hook struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	}
	type event struct {
		OrgID   string `json:"org_id"`
		Retries int    `json:"retries"`
		Hook    hook   `json:"hook"`
	}
	body := []byte(`{"Org_ID":"org_1","retries":"3","colour":1,"hook":{"url":"https://example.com/","headrs":{}}}`)

	var ev event
	err := strictjson.Unmarshal(body, &ev)
	var list *strictjson.Errors
	if errors.As(err, &list) {
		for _, p := range list.Problems {
			fmt.Printf("%s: %s\n", p.Field, p.Message)
		}
	}

	// A syntax error is listed alone, with its byte offset.
	err = strictjson.Unmarshal([]byte(`{"org_id":"org_1"`), &ev)
	fmt.Println(err)
	// Output:
	// Org_ID: unknown field; did you mean "org_id"?
	// retries: must be an integer, got a string
	// colour: unknown field
	// hook.headrs: unknown field
	// unexpected EOF (at byte 17)
}
