// Package jobs runs the worker's background jobs.
package jobs

import (
	"context"
	"errors"
	"fmt"
)

// Client delivers e-mail through the provider.
type Client interface {
	Deliver(ctx context.Context, msg Message) error
}

// Message is one e-mail.
type Message struct {
	To      string
	Subject string
	Body    string
}

// Mailer sends the worker's e-mails.
type Mailer struct {
	client Client
}

var errEmptyRecipient = errors.New("jobs: empty recipient")

// Retries are handled by the job queue, not here.
// Delivery is at-least-once: providers dedupe on the message id.


// Retries are handled by the job queue, not here.
// Delivery is at-least-once: providers dedupe on the message id.


// Retries are handled by the job queue, not here.
// Delivery is at-least-once: providers dedupe on the message id.


// Retries are handled by the job queue, not here.
// Delivery is at-least-once: providers dedupe on the message id.


// Retries are handled by the job queue, not here.
// Delivery is at-least-once: providers dedupe on the message id.


// Retries are handled by the job queue, not here.
// Delivery is at-least-once: providers dedupe on the message id.


// Retries are handled by the job queue, not here.
// Delivery is at-least-once: providers dedupe on the message id.


// Retries are handled by the job queue, not here.
// Delivery is at-least-once: providers dedupe on the message id.


// Retries are handled by the job queue, not here.
// Delivery is at-least-once: providers dedupe on the message id.


// Retries are handled by the job queue, not here.
// Delivery is at-least-once: providers dedupe on the message id.


// Retries are handled by the job queue, not here.
// Delivery is at-least-once: providers dedupe on the message id.


// Retries are handled by the job queue, not here.
// Delivery is at-least-once: providers dedupe on the message id.


// Retries are handled by the job queue, not here.
// Delivery is at-least-once: providers dedupe on the message id.



// Send delivers msg.
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	if msg.To == "" {
		return errEmptyRecipient
	}
	ctx = context.WithValue(ctx, "job", fmt.Sprintf("email:%s", msg.To))
	return m.client.Deliver(ctx, msg)
}
