package slack

// Socket Mode: the receiver's buttons (render.WithButtons) are answered
// here. With an app-level token the receiver holds a WebSocket to Slack
// (socketmode, which needs no public URL); Slack sends each button press
// as an "interactive" envelope, which is acknowledged at once (Slack waits
// 3 s) and acted on afterwards, by the daemon's notify.Actions.
//
// Duplicates: Slack redelivers an envelope whose acknowledgement it did
// not get (the socket dropped in between), under the same or a new
// envelope ID but with the same trigger_id. Both are remembered in a
// bounded in-memory set (seenIDs), so a redelivery within the daemon's
// lifetime is acted on once. An ack is idempotent in the daemon anyway;
// a silence is not: after a restart in the middle of a redelivery, the
// same press could add a second, identical silence (its comment names the
// trigger_id, so `vantage silence list` shows it for what it is).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/silence"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/render"
)

var _ notify.Listener = (*Notifier)(nil)

// Bounds of the listener.
const (
	// seenMax bounds the remembered envelope and trigger IDs: Slack
	// redelivers within minutes, and people press few buttons.
	seenMax = 4096
	// groupTTL is how long a user group's members are trusted without
	// asking Slack again: a member removed from allow_groups' group may
	// act for that long.
	groupTTL = time.Minute
	// actTimeout bounds one action (a re-check runs a whole round) and
	// the Slack calls that report it.
	actTimeout = 2 * time.Minute
	// maxActing bounds the actions run at once; more wait their turn.
	maxActing = 8
	// Backoff between Socket Mode sessions that ended in an error (an
	// app token Slack refuses, say); socketmode itself reconnects a
	// dropped socket and retries a failed connect with its own backoff.
	minBackoff = time.Second
	maxBackoff = 5 * time.Minute
)

// Listening says whether the receiver has an app token, and so buttons
// to answer.
func (n *Notifier) Listening() bool { return n.socket != nil }

// Listen connects over Socket Mode and acts on the buttons until ctx
// ends; actions under way then finish (within actTimeout) before it
// returns. Without an app token it returns at once.
func (n *Notifier) Listen(ctx context.Context, a notify.Actions) error {
	if n.socket == nil {
		return nil
	}
	l := &listener{n: n, a: a, seen: newSeenIDs(seenMax), groups: map[string]groupMembers{}, sem: make(chan struct{}, maxActing)}
	defer l.wg.Wait()
	backoff := minBackoff
	failing := false // logged once until a session connects again
	for {
		connected, err := l.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			backoff, failing = minBackoff, false
		}
		if !failing {
			n.log.Warn("slack: socket mode stopped; retrying with backoff until it connects", "in", backoff, "error", n.errText(err))
		} else {
			n.log.Debug("slack: socket mode still failing", "in", backoff, "error", n.errText(err))
		}
		failing = true
		t := time.NewTimer(backoff + rand.N(backoff/4+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

type listener struct {
	n    *Notifier
	a    notify.Actions
	seen *seenIDs
	wg   sync.WaitGroup
	sem  chan struct{}

	mu     sync.Mutex
	groups map[string]groupMembers
}

type groupMembers struct {
	users map[string]bool
	at    time.Time
}

// session runs one socketmode client until it stops (only on an error
// it does not retry itself, or ctx). connected says whether it got
// through at least once. A dropped socket is logged once, and so is the
// reconnect.
func (l *listener) session(ctx context.Context) (connected bool, err error) {
	n := l.n
	smc := socketmode.New(n.socket)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- smc.RunContext(sctx) }()
	lost := false
	for {
		select {
		case err := <-done:
			return connected, err
		case ev := <-smc.Events:
			switch ev.Type {
			case socketmode.EventTypeConnected:
				if lost {
					n.log.Info("slack: socket mode reconnected")
				} else if !connected {
					n.log.Info("slack: socket mode connected; buttons are live")
				}
				connected, lost = true, false
			case socketmode.EventTypeConnectionError, socketmode.EventTypeDisconnect, socketmode.EventTypeIncomingError:
				if !lost {
					n.log.Warn("slack: socket mode connection lost; reconnecting", "event", string(ev.Type), "error", n.errText(eventErr(ev)))
					lost = true
				}
			case socketmode.EventTypeErrorBadMessage:
				n.log.Warn("slack: socket mode: a message from Slack that does not parse; ignored", "error", n.errText(eventErr(ev)))
			case socketmode.EventTypeInvalidAuth:
				n.log.Error("slack: socket mode: Slack refuses the app token (app_token_file); the buttons do not work")
			case socketmode.EventTypeInteractive:
				l.interactive(ctx, smc, ev)
			}
		}
	}
}

// errText is err's text for a log line, without secrets; "" for nil.
func (n *Notifier) errText(err error) string {
	if err == nil {
		return ""
	}
	return n.redact(err.Error())
}

func eventErr(ev socketmode.Event) error {
	switch d := ev.Data.(type) {
	case *slackgo.ConnectionErrorEvent:
		return d.ErrorObj
	case *socketmode.ErrorBadMessage:
		return d.Cause
	case error:
		return d
	}
	return nil
}

// interactive acknowledges the envelope at once, then acts on it (once)
// in the background.
func (l *listener) interactive(ctx context.Context, smc *socketmode.Client, ev socketmode.Event) {
	if ev.Request == nil {
		return
	}
	// Every copy is acknowledged, the duplicates too, or Slack sends
	// them again.
	if err := smc.AckCtx(ctx, ev.Request.EnvelopeID, nil); err != nil {
		l.n.log.Warn("slack: acknowledging an interaction; Slack will send it again", "envelope", ev.Request.EnvelopeID, "error", err)
	}
	cb, ok := ev.Data.(slackgo.InteractionCallback)
	if !ok || cb.Type != slackgo.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) == 0 {
		return
	}
	first := l.seen.add("envelope:" + ev.Request.EnvelopeID)
	if cb.TriggerID != "" {
		first = l.seen.add("trigger:"+cb.TriggerID) && first
	}
	if !first {
		l.n.log.Info("slack: an interaction delivered again; acted on already", "envelope", ev.Request.EnvelopeID, "trigger", cb.TriggerID, "retry", ev.Request.RetryAttempt)
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.sem <- struct{}{}
		defer func() { <-l.sem }()
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), actTimeout)
		defer cancel()
		l.act(actx, cb)
	}()
}

// press is one button press, as the receiver acts on it.
type press struct {
	actionID string
	action   render.SlackAction
	user     string // Slack user ID
	by       string // "slack:@ana", for the daemon's record
	name     string // "@ana", for the thread
	channel  string
	thread   string // the parent's ts
	trigger  string
}

func (l *listener) act(ctx context.Context, cb slackgo.InteractionCallback) {
	n := l.n
	ba := cb.ActionCallback.BlockActions[0]
	p := press{actionID: ba.ActionID, user: cb.User.ID, channel: cb.Container.ChannelID, thread: cb.Container.MessageTs, trigger: cb.TriggerID}
	if p.channel == "" {
		p.channel = cb.Channel.ID
	}
	if p.thread == "" {
		p.thread = cb.Message.Timestamp
	}
	if t := cb.Message.ThreadTimestamp; t != "" {
		p.thread = t
	}
	name := cb.User.Username
	if name == "" {
		name = cb.User.Name
	}
	if name == "" {
		name = cb.User.ID
	}
	p.name = "@" + name
	p.by = "slack:" + p.name
	value := ba.Value
	if ba.ActionID == render.SlackActionSilenceFor {
		value = ba.SelectedOption.Value
	}
	switch ba.ActionID {
	case render.SlackActionAck, render.SlackActionSilence, render.SlackActionSilenceFor, render.SlackActionRecheck:
	default:
		return // Open in vantage (a link) and buttons not ours
	}
	var err error
	if p.action, err = render.ParseSlackAction(value); err != nil {
		n.log.Warn("slack: a button press with a value vantage did not write", "action", ba.ActionID, "user", p.user, "error", err)
		return
	}
	if ok, why := l.allowed(ctx, p.user); !ok {
		n.log.Warn("slack: refused a button press", "action", ba.ActionID, "user", p.user, "name", p.name, "incident", p.action.Incident, "why", why)
		l.ephemeral(ctx, p, ":no_entry: You are not allowed to act on vantage's alerts: "+why+". Nothing was changed.")
		return
	}
	n.log.Info("slack: button pressed", "action", ba.ActionID, "by", p.by, "incident", p.action.Incident)
	switch ba.ActionID {
	case render.SlackActionAck:
		l.ack(ctx, p)
	case render.SlackActionSilence, render.SlackActionSilenceFor:
		l.silence(ctx, p)
	case render.SlackActionRecheck:
		l.recheck(ctx, p)
	}
}

// allowed says whether Slack user id may act: listed in allow_users, or a
// member of a group in allow_groups (usergroups.users.list, cached for
// groupTTL). A group that cannot be read counts as not containing them.
func (l *listener) allowed(ctx context.Context, id string) (bool, string) {
	n := l.n
	for _, u := range n.allowUsers {
		if u == id {
			return true, ""
		}
	}
	var failed []string
	for _, g := range n.allowGroups {
		users, err := l.members(ctx, g)
		if err != nil {
			n.log.Warn("slack: reading the members of an allowed user group", "group", g, "error", err)
			failed = append(failed, g)
			continue
		}
		if users[id] {
			return true, ""
		}
	}
	if len(failed) > 0 {
		return false, "vantage could not check your membership of " + strings.Join(failed, ", ")
	}
	return false, "you are not in this receiver's allow_users or allow_groups"
}

func (l *listener) members(ctx context.Context, group string) (map[string]bool, error) {
	now := l.n.now()
	l.mu.Lock()
	g, ok := l.groups[group]
	l.mu.Unlock()
	if ok && now.Sub(g.at) < groupTTL && !now.Before(g.at) {
		return g.users, nil
	}
	cctx, c := withCapture(ctx)
	ids, err := l.n.api.GetUserGroupMembersContext(cctx, group)
	if err != nil {
		return nil, l.n.fail("list the members of user group "+group, err, c)
	}
	users := make(map[string]bool, len(ids))
	for _, id := range ids {
		users[id] = true
	}
	l.mu.Lock()
	l.groups[group] = groupMembers{users: users, at: now}
	l.mu.Unlock()
	return users, nil
}

func (l *listener) ack(ctx context.Context, p press) {
	inc, err := l.a.Ack(ctx, p.action.Incident, p.by, "")
	if err != nil {
		l.failed(ctx, p, "acknowledge", err)
		return
	}
	if inc.Ack != nil && inc.Ack.By != p.by {
		l.ephemeral(ctx, p, "Already acknowledged by "+escape(inc.Ack.By)+".")
		return
	}
	l.thread(ctx, p, ":eyes: acknowledged by "+escape(p.name))
}

func (l *listener) silence(ctx context.Context, p press) {
	s := silence.Silence{
		Matchers: silence.Matchers{Incident: p.action.Incident},
		Comment:  "from Slack (trigger " + p.trigger + ")",
	}
	what := ""
	if p.action.For == render.SilenceUntilResolved {
		s.UntilResolved = true
		what = "until it resolves"
	} else {
		d, err := time.ParseDuration(p.action.For)
		if err != nil || d <= 0 || d > 24*time.Hour {
			l.n.log.Warn("slack: a silence button with a duration vantage did not write", "for", p.action.For)
			return
		}
		s.End = l.n.now().Add(d)
		what = "for " + p.action.For
	}
	got, err := l.a.AddSilence(ctx, s, p.by)
	if err != nil {
		l.failed(ctx, p, "silence", err)
		return
	}
	text := ":mute: silenced " + what + " by " + escape(p.name)
	if !got.End.IsZero() {
		text += " until " + fmt.Sprintf("<!date^%d^{time}|%s>", got.End.Unix(), got.End.UTC().Format("15:04 UTC"))
	}
	if got.ID != 0 {
		text += fmt.Sprintf(" (silence #%d)", got.ID)
	}
	l.thread(ctx, p, text)
}

func (l *listener) recheck(ctx context.Context, p press) {
	if p.action.Monitor == "" {
		return
	}
	o, err := l.a.Recheck(ctx, p.action.Monitor, p.by)
	if err != nil {
		l.failed(ctx, p, "re-check", err)
		return
	}
	l.thread(ctx, p, ":arrows_counterclockwise: re-check by "+escape(p.name)+": "+escape(OutcomeHeadline(o)))
}

// OutcomeHeadline is a round's outcome in a line: "up (200) from local,
// fra1", "502 from nginx, down for everyone".
func OutcomeHeadline(o result.Outcome) string {
	var up, down []string
	for _, v := range o.Vantages {
		switch v.Status {
		case result.VantageUp:
			up = append(up, v.Name)
		case result.VantageDown:
			down = append(down, v.Name)
		}
	}
	if o.OK {
		s := "up"
		if o.Status > 0 {
			s += fmt.Sprintf(" (%d)", o.Status)
		}
		if len(up) > 0 {
			s += " from " + strings.Join(up, ", ")
		}
		return s
	}
	m := &notify.Message{Event: incident.NotifyOpen, Kind: incident.KindTarget, Class: o.Class, Status: o.Status, Gateway: o.Gateway, Detail: o.Detail, Scope: o.Scope, Result: &o}
	s := render.Summary(m)
	if len(down) > 0 {
		s += ", down from " + strings.Join(down, ", ")
	}
	return s
}

// failed tells the user who pressed why nothing happened.
func (l *listener) failed(ctx context.Context, p press, what string, err error) {
	l.n.log.Warn("slack: a button's action failed", "action", what, "by", p.by, "incident", p.action.Incident, "error", err)
	l.ephemeral(ctx, p, ":warning: Could not "+what+": "+escape(l.n.redact(err.Error()))+". Nothing was changed.")
}

func (l *listener) thread(ctx context.Context, p press, text string) {
	if p.channel == "" || p.thread == "" {
		return
	}
	cctx, c := withCapture(ctx)
	_, _, err := l.n.api.PostMessageContext(cctx, p.channel,
		slackgo.MsgOptionTS(p.thread),
		slackgo.MsgOptionText(text, false),
		slackgo.MsgOptionDisableLinkUnfurl(),
	)
	if err != nil {
		l.n.log.Warn("slack: posting a button's effect in the thread", "error", l.n.fail("reply in "+p.channel+"/"+p.thread, err, c))
	}
}

func (l *listener) ephemeral(ctx context.Context, p press, text string) {
	if p.channel == "" || p.user == "" {
		return
	}
	cctx, c := withCapture(ctx)
	opts := []slackgo.MsgOption{slackgo.MsgOptionText(text, false)}
	if p.thread != "" {
		opts = append(opts, slackgo.MsgOptionTS(p.thread))
	}
	if _, err := l.n.api.PostEphemeralContext(cctx, p.channel, p.user, opts...); err != nil {
		l.n.log.Warn("slack: telling a user why their button did nothing", "user", p.user, "error", l.n.fail("post ephemeral in "+p.channel, err, c))
	}
}

// escape keeps a name or an error from being read as mrkdwn's controls.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// seenIDs remembers the last max IDs added, forgetting the oldest first.
type seenIDs struct {
	mu    sync.Mutex
	max   int
	set   map[string]bool
	order []string
}

func newSeenIDs(max int) *seenIDs { return &seenIDs{max: max, set: make(map[string]bool, max)} }

// add records id and says whether it is new.
func (s *seenIDs) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set[id] {
		return false
	}
	if len(s.order) >= s.max {
		delete(s.set, s.order[0])
		s.order = s.order[1:]
	}
	s.set[id] = true
	s.order = append(s.order, id)
	return true
}
