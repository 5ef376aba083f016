package config

import (
	"testing"
	"time"
)

func TestCheckSlack(t *testing.T) {
	for _, tt := range []struct {
		name           string
		token, webhook bool
		channel, url   string
		want           SlackRule
	}{
		{"bot", true, false, "C1", "", SlackOK},
		{"webhook", false, true, "", "https://hooks.slack.com/services/x", SlackOK},
		{"webhook not read yet", false, true, "", "", SlackOK},
		{"both", true, true, "C1", "https://hooks.slack.com/services/x", SlackTokenAndWebhook},
		{"neither", false, false, "C1", "", SlackNoCredential},
		{"bot without channel", true, false, "", "", SlackTokenWithoutChannel},
		{"webhook without scheme", false, true, "", "hooks.slack.com/services/x", SlackWebhookNotHTTP},
		{"webhook ftp", false, true, "", "ftp://hooks.slack.com/x", SlackWebhookNotHTTP},
	} {
		if got := CheckSlack(tt.token, tt.webhook, tt.channel, tt.url); got != tt.want {
			t.Errorf("%s: CheckSlack = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestSlackTimeoutAndAPIURL(t *testing.T) {
	if d, err := (&Receiver{}).SlackTimeout(); err != nil || d != DefaultNotifyTimeout {
		t.Errorf("unset timeout = %v, %v; want the default", d, err)
	}
	if d, err := (&Receiver{Timeout: 3 * time.Second}).SlackTimeout(); err != nil || d != 3*time.Second {
		t.Errorf("3s timeout = %v, %v", d, err)
	}
	if _, err := (&Receiver{Timeout: -time.Second}).SlackTimeout(); err == nil {
		t.Error("negative timeout accepted")
	}
	for in, want := range map[string]string{"": "", "http://x/api": "http://x/api/", "http://x/api/": "http://x/api/"} {
		if got := SlackAPIURL(in); got != want {
			t.Errorf("SlackAPIURL(%q) = %q, want %q", in, got, want)
		}
	}
}
