"""Accounts: who may sign in and how. Users and the rules of each role, passwords (argon2, off
the event loop; the length and common-password policy), signing in with its throttle and its
log, server-side sessions that can be ended, and two-factor sign-in (TOTP, recovery codes)."""
