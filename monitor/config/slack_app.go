package config

import (
	"regexp"
	"strings"
)

// Slack's IDs of users (U…, or W… on Enterprise Grid) and of user groups
// (S…): upper-case letters and digits. A name ("@ana", "oncall") is not an
// ID, and would never match who pressed a button.
var (
	slackUserID  = regexp.MustCompile(`^[UW][A-Z0-9]{2,30}$`)
	slackGroupID = regexp.MustCompile(`^S[A-Z0-9]{2,30}$`)
)

// SlackAppTokenPrefix starts every Slack app-level token.
const SlackAppTokenPrefix = "xapp-"

// checkSlackApp reads and checks a slack receiver's Socket Mode keys: the
// app-level token (app_token_file) and who may press the buttons
// (allow_users, allow_groups). bot says the receiver posts with a bot
// token: the buttons' effects are posted in the thread, which a webhook
// cannot do.
func (l *loader) checkSlackApp(r *Receiver, t map[string]any, path, sec string, bot bool) {
	add := func(key, format string, args ...any) { l.add(joinPath(path, key), sec, key, format, args...) }
	for _, u := range r.AllowUsers {
		if !slackUserID.MatchString(u) {
			add("allow_users", "%q is not a Slack user ID such as \"U012ABCDEF\" (a user's profile, ⋮, Copy member ID)", u)
		}
	}
	for _, g := range r.AllowGroups {
		if !slackGroupID.MatchString(g) {
			add("allow_groups", "%q is not a Slack user group ID such as \"S012ABCDEF\"", g)
		}
	}
	if !written(t, "app_token_file") {
		switch {
		case len(r.AllowUsers) > 0:
			add("allow_users", "is set but app_token_file is not: without an app-level token there are no buttons to allow")
		case len(r.AllowGroups) > 0:
			add("allow_groups", "is set but app_token_file is not: without an app-level token there are no buttons to allow")
		}
		return
	}
	if r.AppTokenFile == "" {
		add("app_token_file", "is empty; leave it out for messages without buttons")
		return
	}
	if !bot {
		add("app_token_file", "needs token_file or token_env: the buttons' effects are posted in the incident's thread, which a webhook cannot do")
	}
	if len(r.AllowUsers) == 0 && len(r.AllowGroups) == 0 {
		add("app_token_file", "is set but neither allow_users nor allow_groups is: nobody could press the buttons")
	}
	r.AppToken = l.secret(path, sec, "app_token_file", r.AppTokenFile, "", "", true)
	if tok := r.AppToken.Reveal(); tok != "" && !strings.HasPrefix(tok, SlackAppTokenPrefix) {
		// Never echo the token: say only what it starts with.
		add("app_token_file", "%s does not hold an app-level token (it starts with %q, want %q; a bot token xoxb-… goes in token_file)",
			l.secretPath(r.AppTokenFile), clipPrefix(tok), SlackAppTokenPrefix)
		r.AppToken = Secret{}
	}
}

// clipPrefix is the start of a token that is not an app token, for the
// error: enough to tell xoxb- from xoxp-, never the secret part.
func clipPrefix(s string) string {
	if i := strings.IndexByte(s, '-'); i >= 0 && i < 5 {
		return s[:i+1]
	}
	return ""
}
