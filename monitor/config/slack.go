package config

import (
	"fmt"
	"strings"
	"time"
)

// SlackRule is a rule of a slack receiver that CheckSlack found broken.
// The rules are decided there alone; whoever reports one words it for its
// reader: the loader with the keys the file wrote, notify/slack with the
// receiver's name for a Receiver built in code.
type SlackRule int

// The rules of a slack receiver's credentials.
const (
	SlackOK                  SlackRule = iota
	SlackTokenAndWebhook               // a bot token or a webhook, not both
	SlackNoCredential                  // neither a bot token nor a webhook
	SlackTokenWithoutChannel           // a bot token posts to a channel, which must be named
	SlackWebhookNotHTTP                // the webhook URL is not an http or https URL
)

// CheckSlack applies the rules of a slack receiver's credentials. token and
// webhook say which of the two is given; webhookURL, when known, is
// checked too (the loader knows it only once the secret is read, and reads
// it only when the receiver says which credential it posts with).
func CheckSlack(token, webhook bool, channel, webhookURL string) SlackRule {
	switch {
	case token && webhook:
		return SlackTokenAndWebhook
	case !token && !webhook:
		return SlackNoCredential
	case token && channel == "":
		return SlackTokenWithoutChannel
	case webhook && webhookURL != "" && checkHTTPURL(webhookURL) != nil:
		return SlackWebhookNotHTTP
	}
	return SlackOK
}

// SlackTimeout bounds each call to Slack: the receiver's timeout, or
// DefaultNotifyTimeout when it sets none. A negative one is refused (the
// loader refuses an explicit 0 as well, as for every receiver).
func (r *Receiver) SlackTimeout() (time.Duration, error) {
	switch {
	case r.Timeout < 0:
		return 0, fmt.Errorf("timeout %s is negative", r.Timeout)
	case r.Timeout == 0:
		return DefaultNotifyTimeout, nil
	}
	return r.Timeout, nil
}

// SlackAPIURL is the Web API base URL of api_url s: s ending in "/", since
// slack-go joins method names onto it. "" stays "" (Slack's own).
func SlackAPIURL(s string) string {
	if s == "" || strings.HasSuffix(s, "/") {
		return s
	}
	return s + "/"
}
