package target

// SessionEnder ends a user's signed-in browser session at Zoho Accounts, as
// the user's "sign out" would: the access they granted a JavaScript client
// for the session ends with it (ZA-JS-REFRESH). The fake has it
// (fakeserver.Server.EndSession); a real target has no person to sign
// out, and skips the cases that need it.
type SessionEnder interface {
	EndSession(email string) (bool, error)
}

var _ SessionEnder = (*Fake)(nil)
