// Package slack is the Slack receiver: it delivers notify.Messages to one
// Slack channel, either through the Web API with a bot token (one message
// per incident, later events threaded under it, the message rewritten when
// the incident resolves) or through an incoming webhook (one standalone
// message per event), and it tells the outbox which failures are worth
// retrying.
package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackutilsx"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/render"
)

// Options are the Notifier's collaborators; all are optional.
type Options struct {
	// HTTPClient is copied, and its Timeout capped at the receiver's
	// timeout; nil means a fresh client on http.DefaultTransport.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now reads the clock (for a Retry-After given as an HTTP date).
	Now func() time.Time
	// Redact hides the config's secrets in what the message shows and in
	// error texts (the daemon's Redactor); the receiver's own token or
	// webhook URL is hidden in every encoding whether or not it is set.
	Redact func(string) string
}

// Notifier delivers to one Slack receiver. It holds no per-incident state
// (everything it needs comes back in the ref), so it is safe for
// concurrent use and a new Notifier after a restart carries on where the
// old one stopped.
type Notifier struct {
	name    string
	channel string
	api     *slackgo.Client // nil in webhook mode
	hook    string          // incoming webhook URL; "" in bot mode
	token   string          // kept only to scrub it from errors
	client  *http.Client
	log     *slog.Logger
	now     func() time.Time
	own     *redact.Redactor    // the token or webhook URL, in every encoding
	extra   func(string) string // Options.Redact, or nil

	// Socket Mode (notify/slack/socket.go): socket is the client with
	// the app-level token, nil without one (then no buttons).
	socket      *slackgo.Client
	allowUsers  []string
	allowGroups []string
}

var _ notify.Notifier = (*Notifier)(nil)

// New builds the Notifier for r, a receiver of type "slack" with either a
// bot token and a channel or an incoming webhook URL.
func New(r *config.Receiver, opts Options) (*Notifier, error) {
	if r == nil {
		return nil, errors.New("slack receiver: no configuration")
	}
	if r.Type != config.ReceiverSlack {
		return nil, fmt.Errorf("slack receiver %q: type is %q, not %q", r.Name, r.Type, config.ReceiverSlack)
	}
	token, hook, app := r.Token.Reveal(), r.WebhookURL.Reveal(), r.AppToken.Reveal()
	if app != "" && token == "" {
		return nil, fmt.Errorf("slack receiver %q: an app token needs a bot token: the buttons' effects are posted in the thread", r.Name)
	}
	if app != "" && !strings.HasPrefix(app, config.SlackAppTokenPrefix) {
		return nil, fmt.Errorf("slack receiver %q: the app token does not start with %q", r.Name, config.SlackAppTokenPrefix)
	}
	// The rules are the config's (config.CheckSlack); the words are for a
	// Receiver built in code, which the loader has not seen.
	switch config.CheckSlack(token != "", hook != "", r.Channel, hook) {
	case config.SlackTokenAndWebhook:
		return nil, fmt.Errorf("slack receiver %q: set a bot token or a webhook URL, not both", r.Name)
	case config.SlackNoCredential:
		return nil, fmt.Errorf("slack receiver %q: needs a bot token or a webhook URL", r.Name)
	case config.SlackTokenWithoutChannel:
		return nil, fmt.Errorf("slack receiver %q: a bot token needs a channel", r.Name)
	case config.SlackWebhookNotHTTP:
		// Never echo the URL: its path is the credential.
		return nil, fmt.Errorf("slack receiver %q: the webhook URL is not an http or https URL", r.Name)
	}
	timeout, err := r.SlackTimeout()
	if err != nil {
		return nil, fmt.Errorf("slack receiver %q: %w", r.Name, err)
	}

	// slack-go sets no timeout of its own: every call is bounded here.
	client := &http.Client{}
	if opts.HTTPClient != nil {
		c := *opts.HTTPClient
		client = &c
	}
	if client.Timeout == 0 || client.Timeout > timeout {
		client.Timeout = timeout
	}
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client.Transport = captureTransport{base: base}

	n := &Notifier{
		name:    r.Name,
		channel: r.Channel,
		hook:    hook,
		token:   token,
		client:  client,
		log:     opts.Logger,
		now:     opts.Now,
		own:     redact.New([]redact.Secret{{Value: token}, {Value: hook}, {Value: app}}),
		extra:   opts.Redact,
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.log = n.log.With("receiver", r.Name)
	if n.now == nil {
		n.now = time.Now
	}
	if token != "" {
		o := []slackgo.Option{slackgo.OptionHTTPClient(client)}
		if r.APIURL != "" {
			o = append(o, slackgo.OptionAPIURL(config.SlackAPIURL(r.APIURL)))
		}
		n.api = slackgo.New(token, o...)
		if app != "" {
			n.socket = slackgo.New(token, append(o, slackgo.OptionAppLevelToken(app))...)
			n.allowUsers = append([]string(nil), r.AllowUsers...)
			n.allowGroups = append([]string(nil), r.AllowGroups...)
		}
	}
	return n, nil
}

// Notify delivers msg. In bot mode an open event (or any event without a
// ref) posts a new message and returns its "channel/ts" ref; updates and
// reminders reply in that message's thread; a resolve rewrites the message
// and replies in its thread. In webhook mode every event is one message
// and the ref is always "".
func (n *Notifier) Notify(ctx context.Context, msg *notify.Message, ref string) (string, error) {
	if msg == nil {
		return "", notify.Permanent("no message", fmt.Errorf("slack receiver %q: nil message", n.name))
	}
	switch msg.Event {
	case incident.NotifyOpen, incident.NotifyUpdate, incident.NotifyResolve, incident.NotifyReminder, incident.NotifyNotice:
	default:
		return "", notify.Permanent("unknown event", fmt.Errorf("slack receiver %q: unknown event %q", n.name, msg.Event))
	}
	msg = redact.Copy(msg, n.redact) // what the message shows
	if n.api == nil {
		return "", n.webhook(ctx, msg)
	}

	channel, ts, ok := parseRef(ref)
	if ref != "" && !ok {
		// A ref this receiver cannot have written (hand-edited store, a
		// receiver switched from email): still deliver, as a new message.
		n.log.Warn("slack: ignoring malformed message ref, posting a new message", "ref", ref, "key", msg.Key)
	}
	var newRef string
	for _, st := range Steps(msg, ok) {
		switch st.Kind {
		case StepPost:
			r, err := n.postParent(ctx, st.Message)
			if err != nil {
				return "", err
			}
			if st.Keeps {
				newRef = r
			}
		case StepRewrite:
			lost, err := n.rewrite(ctx, msg, st.Message, channel, ts)
			if err != nil {
				return "", err
			}
			if lost && st.Message == msg {
				// The message is gone or no longer ours to edit: the
				// news must still be seen, as a new message (whose ref
				// later events thread under).
				return n.postParent(ctx, msg)
			}
		case StepReply:
			if err := n.reply(ctx, msg, channel, ts); err != nil {
				return "", err
			}
		}
	}
	return newRef, nil
}

// postParent posts msg as a new message and then, best effort, its details
// (render.SlackDetail) as the first reply in its thread. The details are
// not retried: once the parent is posted, the delivery has succeeded, and
// an error here would make the outbox post a second parent. A failed
// detail reply is logged, and the parent, which says what failed and what
// to do first, stands on its own.
func (n *Notifier) postParent(ctx context.Context, msg *notify.Message) (string, error) {
	ref, err := n.post(ctx, msg)
	if err != nil {
		return "", err
	}
	detail := render.SlackDetail(msg)
	if len(detail) == 0 {
		return ref, nil
	}
	channel, ts, _ := parseRef(ref)
	dctx, c := withCapture(ctx)
	_, _, derr := n.api.PostMessageContext(dctx, channel,
		slackgo.MsgOptionTS(ts),
		slackgo.MsgOptionBlocks(detail...),
		slackgo.MsgOptionText("Details: "+render.Title(msg), true),
		slackgo.MsgOptionMetadata(render.SlackMetadata(msg, render.SlackPartDetail)),
		slackgo.MsgOptionDisableLinkUnfurl(),
	)
	if derr != nil {
		derr = n.fail(fmt.Sprintf("post the details of %s in %s", msg.Event, ref), derr, c)
		n.log.Warn("slack: the message is posted but its details reply failed; not retried, so the message is not posted twice",
			"ref", ref, "key", msg.Key, "error", derr)
	}
	return ref, nil
}

// StepKind is what one call of the bot does to the channel.
type StepKind string

// The steps of a delivery.
const (
	StepPost    StepKind = "post"    // a new message in the channel
	StepRewrite StepKind = "rewrite" // the incident's (or its group's) message, edited in place
	StepReply   StepKind = "reply"   // a reply in the incident's thread
)

// Step is one call the bot makes to deliver a message.
type Step struct {
	Kind StepKind
	// Message is what the call shows: the delivered message, or for the
	// rewrite of a group's message, the group's update.
	Message *notify.Message
	// Keeps: the posted message becomes the incident's message, whose
	// ref later events thread under.
	Keeps bool
}

// Steps is the rule of the bot: what it sends for msg when the incident's
// message exists (threaded) or not. An open event, or any event without a
// message, posts a new one (and its details as the first reply in its
// thread, which is part of the post: see postParent); a notice stands
// alone and the incident keeps its own message; an update (a change of
// class, gateway, scope, or an ack) rewrites the message so its headline is
// never stale, and replies in the thread with the change; a reminder
// replies in the thread; a resolve rewrites the message (the group's, for
// a member of a group) and replies in the thread. A member of a group's
// update only replies: the group's message speaks for all its members.
// Notify follows it, and `vantage demo` shows it as text.
func Steps(msg *notify.Message, threaded bool) []Step {
	switch {
	case !threaded || msg.Event == incident.NotifyOpen:
		return []Step{{Kind: StepPost, Message: msg, Keeps: true}}
	case msg.Event == incident.NotifyNotice:
		return []Step{{Kind: StepPost, Message: msg}}
	case msg.Event == incident.NotifyResolve:
		var out []Step
		if !msg.InGroup {
			out = append(out, Step{Kind: StepRewrite, Message: msg})
		} else if msg.GroupUpdate != nil {
			out = append(out, Step{Kind: StepRewrite, Message: msg.GroupUpdate})
		}
		return append(out, Step{Kind: StepReply, Message: msg})
	case msg.Event == incident.NotifyUpdate && !msg.InGroup:
		return []Step{{Kind: StepRewrite, Message: msg}, {Kind: StepReply, Message: msg}}
	}
	return []Step{{Kind: StepReply, Message: msg}} // reminder, a group member's update
}

// renderOpts is how this receiver draws a parent: with buttons when it
// listens over Socket Mode, since then a press is answered.
func (n *Notifier) renderOpts() []render.SlackOption {
	if n.socket != nil {
		return []render.SlackOption{render.WithButtons()}
	}
	return nil
}

// post sends the incident's main message to the configured channel.
func (n *Notifier) post(ctx context.Context, msg *notify.Message) (string, error) {
	ctx, c := withCapture(ctx)
	channel, ts, err := n.api.PostMessageContext(ctx, n.channel,
		slackgo.MsgOptionBlocks(render.SlackBlocks(msg, n.renderOpts()...)...),
		slackgo.MsgOptionText(render.Title(msg), true),
		slackgo.MsgOptionMetadata(render.SlackMetadata(msg, render.SlackPartParent)),
		slackgo.MsgOptionDisableLinkUnfurl(),
	)
	if err != nil {
		return "", n.fail(fmt.Sprintf("post %s message to %s", msg.Event, n.channel), err, c)
	}
	if channel == "" || ts == "" {
		return "", fmt.Errorf("slack receiver %q: post %s message to %s: the answer has no channel or ts", n.name, msg.Event, n.channel)
	}
	// Slack answers with the channel's ID even when configured by name;
	// the ID survives a rename.
	return channel + "/" + ts, nil
}

// reply posts in the thread of the message at channel/ts.
func (n *Notifier) reply(ctx context.Context, msg *notify.Message, channel, ts string) error {
	ctx, c := withCapture(ctx)
	_, _, err := n.api.PostMessageContext(ctx, channel,
		slackgo.MsgOptionTS(ts),
		slackgo.MsgOptionBlocks(render.SlackReply(msg)...),
		slackgo.MsgOptionText(render.Title(msg), true),
		slackgo.MsgOptionMetadata(render.SlackMetadata(msg, render.SlackPartReply)),
		slackgo.MsgOptionDisableLinkUnfurl(),
	)
	if err != nil {
		return n.fail(fmt.Sprintf("reply to %s/%s for %s", channel, ts, msg.Event), err, c)
	}
	return nil
}

// rewrite edits the message at channel/ts to show shown (msg itself, or
// its group's update). lost reports a message that is gone or no longer
// ours to edit: for a group's message that is only logged, since the
// thread still carries the news; the caller decides for the incident's.
func (n *Notifier) rewrite(ctx context.Context, msg, shown *notify.Message, channel, ts string) (lost bool, err error) {
	uctx, c := withCapture(ctx)
	_, _, _, err = n.api.UpdateMessageContext(uctx, channel, ts,
		slackgo.MsgOptionBlocks(render.SlackBlocks(shown, n.renderOpts()...)...),
		slackgo.MsgOptionText(render.Title(shown), true),
		slackgo.MsgOptionMetadata(render.SlackMetadata(shown, render.SlackPartParent)),
	)
	if err == nil {
		return false, nil
	}
	code := slackCode(err)
	group := shown != msg
	switch {
	case lostMessage[code] && group:
		n.log.Warn("slack: cannot update the grouped message", "ref", channel+"/"+ts, "error", code, "key", msg.Key)
		return true, nil
	case lostMessage[code]:
		n.log.Warn("slack: cannot update the incident's message, posting a new one",
			"ref", channel+"/"+ts, "error", code, "key", msg.Key)
		return true, nil
	case group:
		return false, n.fail(fmt.Sprintf("update grouped message %s/%s for %s", channel, ts, msg.Event), err, c)
	}
	return false, n.fail(fmt.Sprintf("update %s/%s for %s", channel, ts, msg.Event), err, c)
}

// webhook posts msg as one standalone message to the incoming webhook.
// There are no threads, so every event gets the full message: the parent
// and its details in one (render.SlackFull).
func (n *Notifier) webhook(ctx context.Context, msg *notify.Message) error {
	ctx, c := withCapture(ctx)
	err := slackgo.PostWebhookCustomHTTPContext(ctx, n.hook, n.client, &slackgo.WebhookMessage{
		Text:   slackutilsx.EscapeMessage(render.Title(msg)),
		Blocks: &slackgo.Blocks{BlockSet: render.SlackFull(msg)},
	})
	if err != nil {
		return n.fail(fmt.Sprintf("post %s message to the webhook", msg.Event), err, c)
	}
	return nil
}

// parseRef splits a "channel/ts" ref.
func parseRef(ref string) (channel, ts string, ok bool) {
	channel, ts, ok = strings.Cut(ref, "/")
	if !ok || channel == "" || ts == "" || strings.ContainsAny(ts, "/ ") || strings.ContainsAny(channel, " ") {
		return "", "", false
	}
	return channel, ts, true
}

// Slack's ok:false error codes by what they mean for a retry. Codes in
// neither set are permanent: Slack read the request and refused it.
var (
	retryableCodes = map[string]bool{
		"ratelimited":         true,
		"rate_limited":        true,
		"internal_error":      true,
		"fatal_error":         true,
		"service_unavailable": true,
		"request_timeout":     true,
	}
	// lostMessage are chat.update's answers for a message that can no
	// longer be edited: deleted, not posted by this token, too old.
	lostMessage = map[string]bool{
		"message_not_found":   true,
		"cant_update_message": true,
		"edit_window_closed":  true,
	}
)

// slackCode is Slack's ok:false error code in err, or "".
func slackCode(err error) string {
	var se slackgo.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	var sp *slackgo.SlackErrorResponse
	if errors.As(err, &sp) && sp != nil {
		return sp.Err
	}
	return ""
}

// minRetryAfter keeps a "Retry-After: 0" from turning into a busy loop.
const minRetryAfter = time.Second

// fail scrubs err of secrets, says what was being done, and classifies it
// for the outbox.
func (n *Notifier) fail(op string, err error, c *capture) error {
	after, hasAfter, permanent, reason := n.classify(err, c)
	// Judged on the error as Slack's client returned it: scrubbing may
	// flatten it to text, and then an ok:false answer would look unanswered.
	ambiguous := c.ambiguous(err)
	err = fmt.Errorf("slack receiver %q: %s: %w", n.name, op, n.scrub(err))
	switch {
	case hasAfter:
		return notify.RetryAfter(max(after, minRetryAfter), err)
	case permanent:
		// Slack's error text becomes the logged and stored reason; a
		// proxy or a fake may well quote the token in it.
		return notify.Permanent(n.redact(reason), err)
	case ambiguous:
		return notify.Ambiguous(err)
	default:
		return err
	}
}

// ambiguous says whether Slack may have acted on a request that failed:
// it was written in full and no complete answer came back (no response, a
// timeout, or a 200 whose body was cut off or garbled). An answer Slack
// did give (ok:false, a 5xx, a 429) is not ambiguous: Slack said what it
// did.
func (c *capture) ambiguous(err error) bool {
	if !c.wrote.Load() || slackCode(err) != "" {
		return false
	}
	var sc slackgo.StatusCodeError
	if errors.As(err, &sc) {
		return false
	}
	return c.status == 0 || c.status == http.StatusOK
}

func (n *Notifier) classify(err error, c *capture) (after time.Duration, hasAfter, permanent bool, reason string) {
	var rl *slackgo.RateLimitedError
	if errors.As(err, &rl) {
		return rl.RetryAfter, true, false, ""
	}
	if c.status == http.StatusTooManyRequests {
		// slack-go reads only whole seconds; RFC 9110 allows a date too.
		if t, perr := http.ParseTime(c.retryAfter); perr == nil {
			return t.Sub(n.now()), true, false, ""
		}
		return 0, false, false, ""
	}
	if code := slackCode(err); code != "" {
		return 0, false, !retryableCodes[code], code
	}
	var sc slackgo.StatusCodeError
	if errors.As(err, &sc) {
		switch {
		case sc.Code >= 500, sc.Code == http.StatusRequestTimeout, sc.Code == http.StatusTooManyRequests:
			return 0, false, false, ""
		case sc.Code >= 400:
			// The webhook names its refusal in the body (no_service,
			// invalid_token, channel_not_found, ...).
			if code := bodyCode(c.body); code != "" {
				return 0, false, true, code
			}
			return 0, false, true, "http " + strconv.Itoa(sc.Code)
		}
	}
	// Network errors, timeouts, a cancelled context, a garbled answer:
	// worth another try.
	return 0, false, false, ""
}

// bodyCode is the body when it looks like one of Slack's error codes.
func bodyCode(body string) string {
	body = strings.TrimSpace(body)
	if body == "" || len(body) > 64 {
		return ""
	}
	for _, r := range body {
		if (r < 'a' || r > 'z') && r != '_' && (r < '0' || r > '9') {
			return ""
		}
	}
	return body
}

// scrub removes the webhook URL and the token from err's text. The URL
// appears in every *url.Error of a failed webhook POST, so it is replaced
// there (in place: the error was made for this one request); anything
// still carrying a secret is flattened to its scrubbed text.
func (n *Notifier) scrub(err error) error {
	if n.hook != "" {
		var ue *url.Error
		for e := err; errors.As(e, &ue); e = ue.Err {
			if strings.Contains(ue.URL, n.hook) {
				ue.URL = redactURL(n.hook)
			}
		}
	}
	if s := err.Error(); n.redact(s) != s {
		return errors.New(n.redact(s))
	}
	return err
}

// redact hides the receiver's own secret and every other of the config.
func (n *Notifier) redact(s string) string {
	s = n.own.String(s)
	if n.extra != nil {
		s = n.extra(s)
	}
	return s
}

// redactURL keeps the scheme and host of a webhook URL (useful when the
// network is the problem) and drops the path, which is the credential.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<webhook url>"
	}
	return u.Scheme + "://" + u.Host + "/<secret>"
}

// capture records what slack-go's errors leave out: the status, the
// Retry-After header verbatim and the start of an error body. It rides in
// the request's context, so concurrent calls each see their own.
type capture struct {
	status     int
	retryAfter string
	body       string
	// wrote is set once the whole request has gone out (from the
	// transport's goroutine, hence atomic): from then on Slack may act on
	// it whether or not we hear back.
	wrote atomic.Bool
}

type captureKey struct{}

func withCapture(ctx context.Context) (context.Context, *capture) {
	c := &capture{}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				c.wrote.Store(true)
			}
		},
	})
	return context.WithValue(ctx, captureKey{}, c), c
}

type captureTransport struct{ base http.RoundTripper }

// maxErrorBody bounds how much of an error answer is kept.
const maxErrorBody = 512

func (t captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	c, _ := req.Context().Value(captureKey{}).(*capture)
	if c == nil {
		return resp, nil
	}
	c.status = resp.StatusCode
	c.retryAfter = resp.Header.Get("Retry-After")
	c.body = ""
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		c.body = string(b)
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	}
	return resp, nil
}
