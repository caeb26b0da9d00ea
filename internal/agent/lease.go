package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
)

func init() {
	store.Register("agent",
		store.Migration{Version: 1, Name: "agent session leases", SQL: `CREATE TABLE agent_session_leases (
	account TEXT NOT NULL,
	session_key TEXT NOT NULL,
	holder TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (account, session_key)
)`},
	)
}

// defaultSessionLease is how long a turn holds its session without
// renewing the lease (each model call renews it). A replica that dies
// mid-turn leaves the session busy for at most this long.
const defaultSessionLease = 5 * time.Minute

// errSessionBusy is InvokeAgent's ConflictException for a session that is
// running another turn.
func errSessionBusy(sessionID string) error {
	return resource.Conflict("Session %s is processing another request; wait for it to finish and try again.", sessionID)
}

// lease is one turn's hold on its session: a row in agent_session_leases
// that at most one holder owns until it expires. Every replica sharing the
// database sees it, so two turns of one session never run at once, on one
// replica or on several.
type lease struct {
	db      *store.DB
	account string
	key     string
	session string
	holder  string
	ttl     time.Duration
	now     func() time.Time
	held    bool
}

// acquire takes the lease, or returns ConflictException when another
// holder's lease has not expired.
func (l *lease) acquire(ctx context.Context) error {
	now := l.now()
	exp := now.Add(l.ttl).UnixMilli()
	res, err := l.db.Exec(ctx, `INSERT INTO agent_session_leases (account, session_key, holder, expires_at) VALUES (?, ?, ?, ?)
ON CONFLICT (account, session_key) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE agent_session_leases.expires_at < ?`, l.account, l.key, l.holder, exp, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("acquire agent session lease: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("acquire agent session lease: %w", err)
	}
	if n == 0 {
		return errSessionBusy(l.session)
	}
	l.held = true
	return nil
}

// renew pushes the lease's expiry forward; a lease lost to expiry (another
// holder took it) is ConflictException, so the turn is abandoned without
// saving over the other's.
func (l *lease) renew(ctx context.Context) error {
	if l == nil || !l.held {
		return nil
	}
	res, err := l.db.Exec(ctx, `UPDATE agent_session_leases SET expires_at = ? WHERE account = ? AND session_key = ? AND holder = ?`,
		l.now().Add(l.ttl).UnixMilli(), l.account, l.key, l.holder)
	if err != nil {
		return fmt.Errorf("renew agent session lease: %w", err)
	}
	if store.RowsAffected(res) != nil {
		l.held = false
		return errSessionBusy(l.session)
	}
	return nil
}

// release gives the lease up. It runs when the turn ends, also when the
// client went away, so it does not use a cancelled context.
func (l *lease) release(ctx context.Context) {
	if l == nil || !l.held {
		return
	}
	l.held = false
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, _ = l.db.Exec(ctx, `DELETE FROM agent_session_leases WHERE account = ? AND session_key = ? AND holder = ?`, l.account, l.key, l.holder)
}
