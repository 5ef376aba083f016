package main

import (
	"encoding/json"
	"net"
	"testing"
)

// `vantage check` without --config follows a failure up with the
// diagnosis too: there is no config, so the host's resolver alone and the
// TCP connects.
func TestCheckWithoutConfigDiagnosesAFailure(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the check is refused
	code, out, errOut := runCLI(t, "check", "--json", "http://"+addr+"/")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitFailed, errOut)
	}
	var r struct {
		Class     string `json:"class"`
		Diagnosis *struct {
			Connects []struct {
				Addr string `json:"addr"`
				OK   bool   `json:"ok"`
			} `json:"connects"`
			Findings []string `json:"findings"`
		} `json:"diagnosis"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	if r.Class != "connection_refused" || r.Diagnosis == nil {
		t.Fatalf("class %s diagnosis %+v, want connection_refused, diagnosed:\n%s", r.Class, r.Diagnosis, out)
	}
	d := r.Diagnosis
	if len(d.Connects) != 1 || d.Connects[0].Addr != addr || d.Connects[0].OK || len(d.Findings) != 1 || d.Findings[0] != "connect-failed" {
		t.Errorf("diagnosis %+v, want the refused connect to %s and connect-failed", d, addr)
	}
}
