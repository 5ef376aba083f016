// Package render turns a notify.Message into what people read: a one-line
// title (email subject, Slack fallback text), a plain-text body, an HTML
// body and Slack Block Kit blocks. Every receiver renders through here so
// Slack, email and the demo say the same thing in the same words.
//
// Rendering is a pure function of the Message: no clock, no locale, times in
// UTC, so the same message renders the same way on every retry and in the
// golden files.
package render
