package slack

import (
	"testing"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/notify"
)

// TestSteps pins the bot's rule, which Notify follows and the demo shows.
func TestSteps(t *testing.T) {
	group := &notify.Message{Event: incident.NotifyUpdate}
	kinds := func(steps []Step) (out []string) {
		for _, s := range steps {
			k := string(s.Kind)
			if s.Keeps {
				k += "+keeps"
			}
			if s.Message == group {
				k += "(group)"
			}
			out = append(out, k)
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		msg      *notify.Message
		threaded bool
		want     []string
	}{
		{"open", &notify.Message{Event: incident.NotifyOpen}, true, []string{"post+keeps"}},
		{"update without a message", &notify.Message{Event: incident.NotifyUpdate}, false, []string{"post+keeps"}},
		{"update", &notify.Message{Event: incident.NotifyUpdate}, true, []string{"rewrite", "reply"}},
		{"update in a group", &notify.Message{Event: incident.NotifyUpdate, InGroup: true}, true, []string{"reply"}},
		{"reminder", &notify.Message{Event: incident.NotifyReminder}, true, []string{"reply"}},
		{"notice", &notify.Message{Event: incident.NotifyNotice}, true, []string{"post"}},
		{"resolve", &notify.Message{Event: incident.NotifyResolve}, true, []string{"rewrite", "reply"}},
		{"resolve in a group", &notify.Message{Event: incident.NotifyResolve, InGroup: true, GroupUpdate: group}, true, []string{"rewrite(group)", "reply"}},
		{"resolve in a group without its update", &notify.Message{Event: incident.NotifyResolve, InGroup: true}, true, []string{"reply"}},
	} {
		got := kinds(Steps(tc.msg, tc.threaded))
		if len(got) != len(tc.want) {
			t.Errorf("%s: steps %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: steps %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}
