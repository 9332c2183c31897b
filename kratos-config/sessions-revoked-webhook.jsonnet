// Body of the web_hook Kratos sends after revoke_active_sessions (a password changed in
// settings, an account recovered): which identity lost its other sessions. The
// auth-service asks Kratos which sessions are now inactive and announces them, so the
// guards refuse their tokens at once. Never ctx.request_headers (cookies) or the flow.
function(ctx) {
  identity_id: ctx.identity.id,
}
