package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/agent"
)

// TestCheckWithRefusingAgent: `vantage check -config` of a private target
// with an agent that has refuse_private shows the agent's line as refused
// by policy, and the verdict is local's: up, not partial. The JSON keeps
// its field names and says "refused" in the vantage's status.
func TestCheckWithRefusingAgent(t *testing.T) {
	canary, _ := switchable(t, http.StatusNoContent)
	target, targetStatus := switchable(t, http.StatusOK)
	key := agent.GenerateKey()
	keys, err := agent.ParseKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := agent.NewServer(agent.Options{Keys: keys, RefusePrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	as := httptest.NewServer(s)
	t.Cleanup(as.Close)
	file := vantageConfig(t, canary.URL, as.URL, key)

	code, out, errOut := runCLI(t, "check", "-config", file, target.URL)
	if code != exitOK {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitOK, out, errOut)
	}
	for _, want := range []string{"scope     up for everyone", "vantage   local        up",
		"vantage   fra1         refused by policy  destination 127.0.0.1 refused: loopback addresses are not allowed on this agent (refuse_private)"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	targetStatus.Store(http.StatusBadGateway)
	code, out, errOut = runCLI(t, "check", "--json", "-config", file, target.URL)
	if code != exitFailed {
		t.Fatalf("json: exit %d, want %d\n%s\n%s", code, exitFailed, out, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, f := range []string{"url", "ok", "class", "status", "gateway", "via", "detail", "error", "phases", "remote_addr", "evidence", "fixes", "scope", "vantages"} {
		if _, ok := m[f]; !ok {
			t.Errorf("JSON lacks field %q", f)
		}
	}
	if m["scope"] != "everyone" || m["class"] != "bad_gateway" {
		t.Errorf("scope %v class %v, want everyone bad_gateway (local's vote alone)", m["scope"], m["class"])
	}
	vs, _ := m["vantages"].([]any)
	if len(vs) != 2 {
		t.Fatalf("vantages %v", m["vantages"])
	}
	fra1, _ := vs[1].(map[string]any)
	res, _ := fra1["result"].(map[string]any)
	ref, _ := res["refusal"].(map[string]any)
	if fra1["name"] != "fra1" || fra1["status"] != "refused" || ref["policy"] != "refuse_private" || ref["destination"] != "127.0.0.1" {
		t.Errorf("fra1 line %v, want status refused with the refusal in its result", fra1)
	}
}
