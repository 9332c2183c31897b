// Body of the web_hook after a settings flow changed a second factor (TOTP, lookup
// secrets, passkeys; the method is in the hook's URL). Kratos strips credentials from
// ctx.identity, so the body says only who: the auth-service asks Kratos' admin API
// whether the method is now set up, and records user.mfa_enabled / user.mfa_disabled
// when that changed. Never ctx.request_headers (cookies) or the flow's nodes.
function(ctx) {
  identity_id: ctx.identity.id,
}
