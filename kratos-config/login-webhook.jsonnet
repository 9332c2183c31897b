// Body of the after-login web_hook: who signed in, how strongly, in which login flow
// (the idempotency key). Not the session id: Kratos runs this hook before it stores
// the session, so ctx.session.id is still the nil UUID. Never ctx.request_headers
// (cookies) or the request URL.
function(ctx) {
  identity_id: ctx.identity.id,
  flow_id: ctx.flow.id,
  aal: ctx.session.authenticator_assurance_level,
  methods:
    if std.objectHas(ctx.session, 'authentication_methods') && ctx.session.authentication_methods != null
    then [m.method for m in ctx.session.authentication_methods]
    else [],
}
